// The list behind statement.runs_sql_text (policy/sql-text-functions.ts) against the real server's
// pg_proc: every built-in that takes SQL text, a cursor or a whole table/schema/database and runs it
// is known, and every name the list holds is a real function (built-ins in pg_catalog; extension
// functions of the contrib extensions that ship them, installed in a scratch schema when missing).

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KNOWN_SQL_TEXT_FUNCTIONS, runsSqlText } from '../src/policy/sql-text-functions.ts';
import { ensureClinicDatabase } from './support/harness.ts';

const SCHEMA = 'gatehouse_sql_text_probe';
const EXTENSIONS = ['dblink', 'tablefunc', 'xml2', 'pageinspect'];

let db: pg.Client;
let installed: string[] = [];

beforeAll(async () => {
  db = new pg.Client({ connectionString: await ensureClinicDatabase() });
  await db.connect();
  const available = (await db.query('SELECT name FROM pg_available_extensions WHERE name = ANY($1) AND installed_version IS NULL', [EXTENSIONS])).rows.map(
    (r) => r.name as string,
  );
  await db.query(`CREATE SCHEMA IF NOT EXISTS ${SCHEMA}`);
  for (const e of available) {
    await db.query(`CREATE EXTENSION ${e} SCHEMA ${SCHEMA}`);
    installed.push(e);
  }
});

afterAll(async () => {
  for (const e of installed) await db?.query(`DROP EXTENSION IF EXISTS ${e}`);
  await db?.query(`DROP SCHEMA IF EXISTS ${SCHEMA}`);
  installed = [];
  await db?.end();
});

describe('runs_sql_text against pg_proc', () => {
  it('knows every built-in that runs a query, a cursor or a whole relation given as a value', async () => {
    // Inputs named "query" (query_to_xml*, ts_stat), a refcursor input (cursor_to_xml*), the
    // table/schema/database XML exports, and the query form of ts_rewrite (its C symbol).
    const found = (
      await db.query(`
        SELECT DISTINCT p.proname
          FROM pg_proc p
         WHERE p.pronamespace = 'pg_catalog'::regnamespace
           AND ('refcursor'::regtype = ANY (p.proargtypes)
                OR p.proname LIKE '%\\_to\\_xml%'
                OR p.prosrc = 'tsquery_rewrite_query'
                OR EXISTS (SELECT 1 FROM unnest(p.proargnames) WITH ORDINALITY a(n, i)
                            WHERE a.n = 'query' AND coalesce(p.proargmodes[a.i], 'i') IN ('i', 'b', 'v')))
         ORDER BY 1`)
    ).rows.map((r) => r.proname as string);
    // The query finds what it should (so an empty answer cannot pass).
    expect(found).toEqual(expect.arrayContaining(['query_to_xml', 'table_to_xml', 'cursor_to_xml', 'ts_stat', 'ts_rewrite', 'database_to_xmlschema']));
    expect(found.filter((f) => !runsSqlText(f) || !runsSqlText(`pg_catalog.${f}`))).toEqual([]);
  });

  it('names only real pg_catalog functions as built-ins', async () => {
    const names = [...KNOWN_SQL_TEXT_FUNCTIONS.builtIn];
    const real = (await db.query("SELECT DISTINCT proname FROM pg_proc WHERE pronamespace = 'pg_catalog'::regnamespace AND proname = ANY($1)", [names])).rows.map(
      (r) => r.proname as string,
    );
    expect(names.filter((n) => !real.includes(n))).toEqual([]);
  });

  it('names only real functions of the contrib extensions', async () => {
    // PostgreSQL's contrib ships with the server package on this machine kind; without it this
    // check cannot be made, and says so rather than pass.
    const present = (await db.query('SELECT extname FROM pg_extension WHERE extname = ANY($1)', [EXTENSIONS])).rows.map((r) => r.extname as string);
    expect(present.sort(), 'contrib extensions dblink, tablefunc, xml2 and pageinspect must be installable').toEqual([...EXTENSIONS].sort());
    const names = [...KNOWN_SQL_TEXT_FUNCTIONS.extension];
    // The extensions' own functions, in whatever schema they are installed.
    const real = (
      await db.query(
        `SELECT DISTINCT p.proname
           FROM pg_proc p
           JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
           JOIN pg_extension x ON x.oid = d.refobjid
          WHERE x.extname = ANY($1) AND p.proname = ANY($2)`,
        [EXTENSIONS, names],
      )
    ).rows.map((r) => r.proname as string);
    expect(names.filter((n) => !real.includes(n))).toEqual([]);
    // Installed in any schema, they still count.
    expect(runsSqlText(`${SCHEMA}.dblink`)).toBe(true);
  });
});
