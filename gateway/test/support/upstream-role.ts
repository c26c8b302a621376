// A non-superuser upstream role for tests of writes under a mask (issue 6): a superuser upstream role can
// replace every function, so Gatehouse refuses every masked write that fires a user trigger under it
// (enforce/replaceable-functions.ts). The tests' fixtures are made by postgres (the administrator), so
// this role owns none of them and cannot become their owner, and it gets CREATE on no schema (PostgreSQL 15
// gives PUBLIC none on public): a reviewed trigger's body may call functions by name, so a role that can
// define functions gets those writes refused too (pg/by-name-reach.ts). It gets the table and sequence privileges
// (SELECT, INSERT, UPDATE, DELETE: not TRIGGER) and the masking functions `gatehouse db setup` grants, as an
// operator's Gatehouse role would.

import pg from 'pg';
import { setupMaskFunctions } from '../../src/db/setup.ts';

/** Cluster-wide (roles are), shared by every test database on the server. */
export const UPSTREAM_ROLE = 'gatehouse_it_upstream';

/**
 * Makes UPSTREAM_ROLE (if missing) and grants it, in the database at `url` (an administrator's URL), every
 * privilege on the tables and sequences of `schemas` as they are now and the masking functions; returns
 * `url` with that role as the user (trust authentication on the test server).
 */
export async function nonSuperuserUpstream(url: string, schemas: readonly string[] = ['clinical', 'public']): Promise<string> {
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
  } finally {
    await admin.end();
  }
  const u = new URL(url);
  u.username = UPSTREAM_ROLE;
  return u.toString();
}
