// Unqualified relation names: whatever table PostgreSQL resolves a name to must be among the
// tables Gatehouse reports for it (sql/table-ref.ts), on the same search path. Checked against the
// real server's own resolution (to_regclass) for paths that put system schemas first, last and
// not at all, and for names that exist in several schemas.

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSystemRelations } from '../src/pg/system-relations-loader.ts';
import { loadSqlParser } from '../src/sql/parser.ts';
import { tableRefs } from '../src/sql/table-ref.ts';
import type { SystemRelations } from '../src/sql/system-relations.ts';
import { ensureClinicDatabase } from './support/harness.ts';

const SCHEMA = 'gatehouse_names';

describe('name resolution agrees with PostgreSQL', () => {
  let db: pg.Client;
  let system: SystemRelations;

  beforeAll(async () => {
    await loadSqlParser();
    const url = await ensureClinicDatabase();
    system = (await loadSystemRelations(url, null)).relations;
    db = new pg.Client({ connectionString: url });
    await db.connect();
    // Names that also exist in pg_catalog and information_schema, and in clinical.
    await db.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE; CREATE SCHEMA ${SCHEMA}`);
    await db.query(`CREATE TABLE ${SCHEMA}.pg_class (x int); CREATE TABLE ${SCHEMA}.tables (x int); CREATE TABLE ${SCHEMA}.patients (x int)`);
  });
  afterAll(async () => {
    await db?.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`).catch(() => undefined);
    await db?.end();
  });

  const paths = [
    ['public'],
    ['clinical'],
    ['pg_catalog', 'clinical'],
    ['information_schema', 'clinical'],
    [SCHEMA, 'clinical'],
    ['clinical', SCHEMA],
    [SCHEMA, 'pg_catalog', 'information_schema'],
    ['information_schema', SCHEMA, 'pg_catalog'],
    ['clinical', 'information_schema', SCHEMA],
  ];
  const names = ['patients', 'visits', 'pg_class', 'pg_authid', 'tables', 'columns', 'pg_stats'];

  it.each(paths.map((p) => [p.join(', '), p] as const))('search_path %s', async (_label, path) => {
    await db.query(`SET search_path = ${path.join(', ')}`);
    for (const name of names) {
      const r = await db.query<{ schema: string | null }>(
        `SELECT n.nspname AS schema FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE c.oid = pg_catalog.to_regclass($1)`,
        [name],
      );
      const actual = r.rows[0]?.schema ?? null;
      const reported = tableRefs(null, name, path, 'lookup', system).map((t) => t.schema);
      if (actual !== null) expect(reported, `${name} on ${path.join(', ')}`).toContain(actual);
      // A system relation ends the search: nothing after it is reported.
      if (actual === 'pg_catalog' || actual === 'information_schema') expect(reported.at(-1), name).toBe(actual);
    }
    await db.query('RESET search_path');
  });
});
