// A non-superuser upstream role for tests of writes under a mask (issue 6): a superuser upstream role can
// replace every function, so Gatehouse refuses every masked write that fires a user trigger under it
// (enforce/replaceable-functions.ts). The tests' fixtures are made by postgres (the administrator), so
// this role owns none of them and cannot become their owner, and it gets CREATE on no schema (PostgreSQL 15
// gives PUBLIC none on public): a reviewed trigger's body may call functions by name, so a role that can
// define functions gets those writes refused too (pg/by-name-reach.ts). Nor may it create temporary objects
// unless a test asks (`temporary`): a temporary type or table is found before the one a body whose path does
// not list pg_temp means, so a role that can make one gets those writes refused as well (red-team round 20c,
// R20c-3). PUBLIC has TEMPORARY on a database by default, and no grant can be taken from one role alone, so
// this revokes it from PUBLIC on the test database, for good (no other non-superuser role of the tests makes
// temporary objects there), and grants it to the role by name when asked. It gets the table and sequence
// privileges (SELECT, INSERT, UPDATE, DELETE: not TRIGGER) and the masking functions `gatehouse db setup`
// grants, as an operator's Gatehouse role would.

import pg from 'pg';
import { setupMaskFunctions } from '../../src/db/setup.ts';

/** Cluster-wide (roles are), shared by every test database on the server. */
export const UPSTREAM_ROLE = 'gatehouse_it_upstream';

export interface UpstreamRoleOptions {
  /** Schemas whose tables and sequences it may use (default clinical and public). */
  schemas?: readonly string[];
  /** It may create temporary objects in the database (default: it may not). */
  temporary?: boolean;
}

/**
 * Makes UPSTREAM_ROLE (if missing) and grants it, in the database at `url` (an administrator's URL), every
 * privilege on the tables and sequences of `schemas` as they are now and the masking functions, and
 * TEMPORARY on the database only when asked (see above); returns `url` with that role as the user (trust
 * authentication on the test server).
 */
export async function nonSuperuserUpstream(url: string, options: UpstreamRoleOptions = {}): Promise<string> {
  const { schemas = ['clinical', 'public'], temporary = false } = options;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    // Several test files (and helpers' databases) may create it at once: a duplicate is fine.
    await admin.query(`DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = '${UPSTREAM_ROLE}') THEN CREATE ROLE ${UPSTREAM_ROLE} LOGIN NOSUPERUSER; END IF;
      EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`);
    for (const s of schemas) {
      await admin.query(`GRANT USAGE ON SCHEMA ${s} TO ${UPSTREAM_ROLE}`);
      await admin.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${s} TO ${UPSTREAM_ROLE}`);
      await admin.query(`GRANT ALL ON ALL SEQUENCES IN SCHEMA ${s} TO ${UPSTREAM_ROLE}`);
    }
    await setupMaskFunctions(admin, { grantTo: UPSTREAM_ROLE });
    const database = admin.escapeIdentifier(new URL(url).pathname.slice(1));
    await admin.query(`REVOKE TEMPORARY ON DATABASE ${database} FROM PUBLIC`);
    await admin.query(temporary ? `GRANT TEMPORARY ON DATABASE ${database} TO ${UPSTREAM_ROLE}` : `REVOKE TEMPORARY ON DATABASE ${database} FROM ${UPSTREAM_ROLE}`);
  } finally {
    await admin.end();
  }
  const u = new URL(url);
  u.username = UPSTREAM_ROLE;
  return u.toString();
}
