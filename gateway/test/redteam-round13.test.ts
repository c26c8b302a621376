// Red-team round 13 (both engines since masking14), against branches `masking13` (the operators and types a statement names are
// statement facts, collected in the facts walk and cached with the parse: sql/routine-names.ts,
// enforce/routine-uses.ts; write effects in one walk; R12-9 view locks) and `hotpath13` (CPU cuts on
// the hot path: the quick shape).
//
// Attacked: user operators reached through forms that name them only implicitly (IS DISTINCT FROM,
// NULLIF, IN, CASE x WHEN, = ANY, BETWEEN, OPERATOR(schema.op), ORDER BY ... USING), in every part of
// a statement the facts walk handles itself (FROM items, DML targets, ON CONFLICT, MERGE, RETURNING,
// writable CTEs, LATERAL, window clauses, prepared statements); types whose input runs a user domain's
// CHECK without being a domain; writes to columns whose type runs a user function without being a domain.
//
// Found (each test asserts the SECURE behaviour):
// - R13-1 (high, older than these branches): the routine snapshot judged a type by its own kind only:
//   an array of a domain (`'{1}'::public._d`, typtype 'b') and a composite type with a domain
//   attribute (`'(1)'::public.comp`, `ROW(1)::t`, `json_populate_record(NULL::t, ...)`, a table's row
//   type) were harmless, yet their input runs the domain's CHECK: what it read raw reached the agent.
//   Fixed (pg/routine-snapshot.ts: a type is harmful when its elements, attributes or base type are).
// - R13-2 (high, older than these branches): a write to a column whose type is an array of a domain,
//   a domain over a domain, or a composite with a domain attribute runs the inner domain's CHECK, and a
//   write of an integer into a column of a user type with an assignment cast runs the cast's function;
//   none of them was in statement.user_functions (only a column typed with the domain itself was).
//   Fixed (pg/relation-write-calls.ts: the types a column's type reaches, and their casts' functions).
// - R13-3 (high, against masking13's R12-9): a schema change in a transaction block through Gatehouse
//   had the snapshots read again only when the transaction ended; while a schema admin's transaction
//   replaced a view (now reading clinical.patients), an agent's statement naming a view over it was
//   decided with the old definition, queued behind the lock, and ran the new one at COMMIT: the raw
//   SSN reached the agent. Fixed (pg/upstream-relay.ts: read again at the ReadyForQuery after the change
//   too, so the read sees the lock, marks the view, and the statement is refused with 55000).
// - R13-4 (high, older than these branches): a view casting to a domain (`1::d`, `ARRAY[1]::_d`) runs
//   the domain's CHECK whenever it is read, yet the view's calls (pg/relation-snapshot.ts VIEW_CALLS)
//   held only the functions and operators its rule depends on: an agent reading the view got what the
//   CHECK's function raised. Fixed (VIEW_CALLS: the domain constraints of the types the rule reaches).
// Held: operators in every form and clause below, named and shape-cached statements after an operator
// is rebuilt on a user function, and (gateway/src/sql/quick-shape-differential.test.ts) quick shapes
// against PostgreSQL's normalization: no two texts with one quick shape had different shapes.
//
// Run: GATEHOUSE_TEST_DB=gh_redteam13 npx vitest run --project integration gateway/test/redteam-round13.test.ts

import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Outcome } from './support/attempt.ts';
import { useRedTeamFixture } from './support/redteam-fixture.ts';

const CLEANUP = `
DROP VIEW IF EXISTS public.ddl_rt13_v2, public.ddl_rt13_v1, public.ddl_rt13_domv, public.ddl_rt13_arrv;
DROP TABLE IF EXISTS public.pgbench_rt13_arrcol, public.pgbench_rt13_dom2col, public.pgbench_rt13_compcol, public.pgbench_rt13_castcol, public.pgbench_rt13_rowcol, public.pgbench_rt13_plain;
DROP TYPE IF EXISTS public.rt13_comp, public.rt13_enum CASCADE;
DROP DOMAIN IF EXISTS public.rt13_dom2, public.rt13_dom CASCADE;
DROP FUNCTION IF EXISTS public.rt13_leak_check(integer), public.rt13_leak_eq(integer, numeric), public.rt13_to_enum(integer) CASCADE;
DROP OPERATOR IF EXISTS public.<~> (integer, integer);
DROP FUNCTION IF EXISTS public.rt13_leak_int(integer, integer);
`;

const SETUP = `
CREATE FUNCTION public.rt13_leak_check(integer) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  RAISE NOTICE 'checked next to %', (SELECT ssn FROM clinical.patients WHERE id = 1);
  RETURN true;
END $$;
CREATE DOMAIN public.rt13_dom AS integer CHECK (public.rt13_leak_check(VALUE));
CREATE DOMAIN public.rt13_dom2 AS public.rt13_dom;
CREATE TYPE public.rt13_comp AS (v public.rt13_dom);
CREATE TABLE public.pgbench_rt13_arrcol (v public.rt13_dom[]);
CREATE TABLE public.pgbench_rt13_dom2col (v public.rt13_dom2);
CREATE TABLE public.pgbench_rt13_compcol (c public.rt13_comp);
CREATE TABLE public.pgbench_rt13_rowcol (v public.rt13_dom);
CREATE TYPE public.rt13_enum AS ENUM ('a');
CREATE FUNCTION public.rt13_to_enum(integer) RETURNS public.rt13_enum LANGUAGE plpgsql AS $$
BEGIN
  RAISE NOTICE 'cast next to %', (SELECT ssn FROM clinical.patients WHERE id = 1);
  RETURN 'a';
END $$;
CREATE CAST (integer AS public.rt13_enum) WITH FUNCTION public.rt13_to_enum(integer) AS ASSIGNMENT;
CREATE TABLE public.pgbench_rt13_castcol (v public.rt13_enum);
CREATE TABLE public.pgbench_rt13_plain (id integer PRIMARY KEY, n numeric);
INSERT INTO public.pgbench_rt13_plain VALUES (1, 1.5);
-- An operator that only an exact match on (integer, numeric) picks, over pg_catalog's numeric = numeric.
CREATE FUNCTION public.rt13_leak_eq(integer, numeric) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  RAISE NOTICE 'compared next to %', (SELECT ssn FROM clinical.patients WHERE id = 1);
  RETURN false;
END $$;
CREATE OPERATOR public.= (LEFTARG = integer, RIGHTARG = numeric, FUNCTION = public.rt13_leak_eq);
CREATE OPERATOR public.<> (LEFTARG = integer, RIGHTARG = numeric, FUNCTION = public.rt13_leak_eq);
CREATE OPERATOR public.>= (LEFTARG = integer, RIGHTARG = numeric, FUNCTION = public.rt13_leak_eq);
CREATE OPERATOR public.~~ (LEFTARG = integer, RIGHTARG = numeric, FUNCTION = public.rt13_leak_eq);
CREATE VIEW public.ddl_rt13_domv AS SELECT 1::public.rt13_dom AS v;
CREATE VIEW public.ddl_rt13_arrv AS SELECT ARRAY[1]::public._rt13_dom AS v;
CREATE VIEW public.ddl_rt13_v1 AS SELECT id, NULL::text AS note FROM public.pgbench_rt13_plain;
CREATE VIEW public.ddl_rt13_v2 AS SELECT id, note FROM public.ddl_rt13_v1;
-- An operator on a built-in function (harmless) that a schema admin later rebuilds on a user function.
CREATE OPERATOR public.<~> (LEFTARG = integer, RIGHTARG = integer, FUNCTION = pg_catalog.int4eq);
CREATE FUNCTION public.rt13_leak_int(integer, integer) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  RAISE NOTICE 'compared next to %', (SELECT ssn FROM clinical.patients WHERE id = 1);
  RETURN false;
END $$;
`;

// Each engine's example policies, and schema-admins who change the schema through Gatehouse.
describe.each(['rego', 'cedar'] as const)('red-team round 13 (%s): user operators and types in the statement facts, types that run a domain', (engine) => {
  const rt = useRedTeamFixture({
    engine,
    // A database of its own: a user `=` operator makes every `=` a user function to the policy, which
    // would refuse other test files' statements running meanwhile against the shared test database.
    database: 'rt13',
    cleanup: CLEANUP,
    setup: SETUP, // an administrator's schema, made before the gateway starts
    policies: { ruleId: 'rt13', agentTablePrefix: 'public.ddl_rt13_' },
    admin: 'rt13-admin',
    agent: { subject: 'rt13-agent', groups: ['agents', 'bench'] },
  });
  const { attempt, inBlock } = rt;
  let direct: pg.Client, admin: pg.Client, agent: pg.Client, ssn: string;
  beforeAll(() => {
    ({ direct, admin, agent, ssn } = rt);
  });

  it('the probes are live: sent directly, the domain CHECK, the cast and the operator raise the seeded SSN', async () => {
    const seen: string[] = [];
    const listen = (n: { message?: string }): void => void seen.push(n.message ?? '');
    direct.on('notice', listen);
    try {
      await direct.query(`SELECT '{1}'::public._rt13_dom AS v`);
      await direct.query('SELECT 1 IS DISTINCT FROM 1.5 AS v');
      await direct.query('BEGIN');
      await direct.query('INSERT INTO public.pgbench_rt13_castcol VALUES (1)');
      await direct.query('ROLLBACK');
      await new Promise((r) => setImmediate(r));
    } finally {
      direct.off('notice', listen);
    }
    expect(seen.filter((m) => m.includes(ssn))).toHaveLength(3);
  });

  // R13-1: a cast to a type that is not a domain, yet whose input runs a domain's CHECK: an array of
  // the domain (its own name, `_rt13_dom`, is a base type to pg_type), a composite type with a domain
  // attribute, a table's row type. The routine snapshot called them harmless.
  it.each([
    ['an array type of a domain, by its own name', `SELECT '{1}'::public._rt13_dom AS v`],
    ['a composite type with a domain attribute, from a literal', `SELECT '(1)'::public.rt13_comp AS v`],
    ['a composite type with a domain attribute, from a ROW', 'SELECT ROW(1)::public.rt13_comp AS v'],
    ['a composite type with a domain attribute, through json_populate_record', `SELECT json_populate_record(NULL::public.rt13_comp, '{"v": 1}') AS v`],
    ['a table row type with a domain column', `SELECT '(1)'::public.pgbench_rt13_rowcol AS v`],
    ['a table row type with a composite column holding a domain', `SELECT * FROM jsonb_populate_record(NULL::public.pgbench_rt13_compcol, '{"c": {"v": 1}}')`],
    ['an array of a composite type with a domain attribute', `SELECT '{"(1)"}'::public._rt13_comp AS v`],
  ])('R13-1: a cast to %s is a user function to the policy', async (_what, sql) => {
    const o = await attempt(agent, sql);
    expect(JSON.stringify(o)).not.toContain(ssn);
    expect(o.code).toBe('42501');
  });

  // R13-2: a write runs the CHECK of every domain its columns' types reach, and an assignment cast's
  // function; pg/relation-write-calls.ts listed only the CHECKs of a column typed with the domain itself.
  it.each([
    ['an array of a domain', `INSERT INTO public.pgbench_rt13_arrcol VALUES ('{1}')`],
    ['a domain over a domain', 'INSERT INTO public.pgbench_rt13_dom2col VALUES (1)'],
    ['a composite type with a domain attribute', `INSERT INTO public.pgbench_rt13_compcol VALUES ('(1)')`],
    ['a user type with an assignment cast from integer', 'INSERT INTO public.pgbench_rt13_castcol VALUES (1)'],
  ])('R13-2: a write to a column of %s is refused, and nothing it raises arrives', async (_what, sql) => {
    const o = await inBlock(sql);
    expect(JSON.stringify(o)).not.toContain(ssn);
    expect(o.code).toBe('42501');
  });

  // Held: each form below names, or makes PostgreSQL look up by name, the `=`, `<>`, `>=` or `~~` that
  // an exact match on (integer, numeric) resolves to public.rt13_leak_eq.
  it.each([
    ['IS DISTINCT FROM', 'SELECT 1 IS DISTINCT FROM 1.5 AS v'],
    ['IS NOT DISTINCT FROM', 'SELECT 1 IS NOT DISTINCT FROM 1.5 AS v'],
    ['NULLIF', 'SELECT NULLIF(1, 1.5) AS v'],
    ['IN', 'SELECT 1 IN (1.5, 2.5) AS v'],
    ['NOT IN', 'SELECT 1 NOT IN (1.5, 2.5) AS v'],
    ['CASE x WHEN', `SELECT CASE 1 WHEN 1.5 THEN 'a' END AS v`],
    ['= ANY (array)', 'SELECT 1 = ANY (ARRAY[1.5]) AS v'],
    ['= ANY (subquery)', 'SELECT 1 = ANY (SELECT 1.5) AS v'],
    ['BETWEEN', 'SELECT 1 BETWEEN 1.5 AND 2 AS v'],
    ['LIKE', 'SELECT 1 LIKE 1.5 AS v'],
    ['OPERATOR(public.=)', 'SELECT 1 OPERATOR(public.=) 1.5 AS v'],
    ['a comparison in a LATERAL subquery', 'SELECT v FROM (VALUES (1)) a(x), LATERAL (SELECT a.x = 1.5 AS v) b'],
    ['a comparison in a window frame', 'SELECT count(*) FILTER (WHERE 1 = 1.5) OVER () AS v'],
    ['a comparison in ORDER BY', 'SELECT 1 AS v ORDER BY 1 = 1.5'],
    ['a comparison in GROUP BY / HAVING', 'SELECT count(*) AS v FROM (VALUES (1)) a(x) GROUP BY x HAVING x = 1.5 OR true'],
    ['a comparison in a table read', 'SELECT id AS v FROM public.pgbench_rt13_plain WHERE id = n'],
    ['a comparison in UPDATE ... FROM', 'UPDATE public.pgbench_rt13_plain p SET n = 2 FROM (VALUES (1.5)) v(x) WHERE p.id = v.x'],
    ['a comparison in DELETE ... USING', 'DELETE FROM public.pgbench_rt13_plain p USING (VALUES (1.5)) v(x) WHERE p.id = v.x'],
    ['a comparison in RETURNING', 'UPDATE public.pgbench_rt13_plain SET n = 2 RETURNING id = 1.5 AS v'],
    ['a comparison in ON CONFLICT DO UPDATE ... WHERE', 'INSERT INTO public.pgbench_rt13_plain VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET n = 3 WHERE excluded.id = 1.5'],
    ['a comparison in a MERGE condition', 'MERGE INTO public.pgbench_rt13_plain p USING (VALUES (1)) v(x) ON p.id = v.x WHEN MATCHED AND p.id = 1.5 THEN DELETE'],
    ['a comparison in a writable CTE', 'WITH w AS (DELETE FROM public.pgbench_rt13_plain WHERE id = 1.5 RETURNING id) SELECT count(*) AS v FROM w'],
    ['a comparison in COPY (query) TO', 'COPY (SELECT 1 = 1.5 AS v) TO STDOUT'],
    ['a comparison in EXPLAIN ANALYZE', 'EXPLAIN ANALYZE SELECT 1 = 1.5 AS v'],
    ['a comparison in a DECLARE cursor', 'DECLARE rt13_c CURSOR FOR SELECT 1 = 1.5 AS v'],
    ['a comparison after a harmless statement in one Query', 'SELECT 1 AS a; SELECT 1 = 1.5 AS v'],
    ['a comparison with a comment and odd spacing', 'SELECT/* = */1/**/=/**/1.5 AS v'],
    ['a comparison in a dollar-quoted string cast', 'SELECT 1 = $$1.5$$::numeric AS v'],
  ])('held: %s with a user operator is refused, nothing it raises arrives', async (_what, sql) => {
    const o = await inBlock(sql);
    expect(JSON.stringify(o)).not.toContain(ssn);
    expect(o.code).toBe('42501');
  });

  it('held: the same comparison as a bound parameter of an extended-protocol statement is refused every time', async () => {
    for (let i = 0; i < 3; i++) {
      const o = await inBlock({ name: 'rt13_eq', text: 'SELECT $1::integer = 1.5 AS v', values: [1] });
      expect(JSON.stringify(o)).not.toContain(ssn);
      expect(o.code).toBe('42501');
    }
  });

  // The operator names are facts of the parse (cached by text and by shape); whether they are user
  // functions is judged at each decision against the routine snapshot, read again after a change made
  // through Gatehouse. A named statement parsed before the change, and a statement whose shape was
  // cached before it, are refused after it.
  it('held: an operator rebuilt on a user function through Gatehouse is a user function to statements parsed before', async () => {
    const named = { name: 'rt13_rebuilt', text: 'SELECT $1::integer <~> 1 AS v' };
    const before = await inBlock({ ...named, values: [1] });
    expect(before.code).toBeNull();
    for (const id of [1, 2]) expect((await inBlock(`SELECT id AS v FROM public.pgbench_rt13_plain WHERE id <~> ${id}`)).code).toBeNull();
    const rebuild = `DROP OPERATOR public.<~> (integer, integer); CREATE OPERATOR public.<~> (LEFTARG = integer, RIGHTARG = integer, FUNCTION = public.rt13_leak_int)`;
    expect((await attempt(admin, rebuild)).code).toBeNull();
    for (const sql of [{ ...named, values: [2] }, 'SELECT id AS v FROM public.pgbench_rt13_plain WHERE id <~> 3', 'SELECT $1::integer <~> 1 AS v']) {
      const o = await inBlock(typeof sql === 'string' && sql.includes('$1') ? { text: sql, values: [3] } : sql);
      expect(JSON.stringify(o)).not.toContain(ssn);
      expect(o.code, JSON.stringify(sql)).toBe('42501');
    }
  });

  // R13-3: the snapshots were read again after a schema change only once its transaction ended, so
  // while a schema admin's transaction replaced a view, the snapshot still held the old definition:
  // an agent's statement naming a view over it was decided with it (reads no masked table), queued
  // behind the lock, and ran the new definition at COMMIT: the raw SSN. Now read after the change at
  // once: the view is marked locked (R12-9) and the statement refused with 55000.
  it('R13-3: a view over a view being replaced in a transaction open through Gatehouse is refused at once, not run with the new definition after the commit', async () => {
    const read = 'SELECT note FROM public.ddl_rt13_v2 WHERE id < 2'; // not `=`: public.= is a user operator here
    expect((await attempt(agent, read)).code).toBeNull();
    let pending: Promise<Outcome> = Promise.resolve({ code: null, rows: [], error: null, notices: [] });
    await admin.query('BEGIN');
    try {
      const replace = 'CREATE OR REPLACE VIEW public.ddl_rt13_v1 AS SELECT p.id, p.ssn AS note FROM clinical.patients p';
      expect((await attempt(admin, replace)).code).toBeNull();
      pending = attempt(agent, read);
      const during = await Promise.race([pending, new Promise<Outcome>((r) => setTimeout(() => r({ code: 'hung', rows: [], error: null, notices: [] }), 5_000))]);
      expect(during.code).toBe('55000');
    } finally {
      await admin.query('COMMIT');
      // Whatever became of the statement sent during the transaction, it returns no raw SSN.
      const queued = await pending;
      expect(JSON.stringify(queued)).not.toContain(ssn);
    }
    let after = await attempt(agent, read);
    for (let i = 0; i < 20 && after.code === '55000'; i++) {
      await new Promise((r) => setTimeout(r, 250));
      after = await attempt(agent, read);
    }
    expect(JSON.stringify(after)).not.toContain(ssn);
    expect(after.code).toBe('0A000'); // decided with the committed definition: a view reading a masked table
  });

  // R13-4: a view's own casts run when it is read: a cast to a domain runs the domain's CHECK. The
  // functions a view calls (functionsThrough, in user_functions when not built in) came from pg_depend's
  // functions and operators only, not from the types the view's rule depends on.
  it.each([
    ['a domain', 'SELECT v FROM public.ddl_rt13_domv'],
    ['an array of a domain', 'SELECT v FROM public.ddl_rt13_arrv'],
  ])('R13-4: a view casting to %s whose CHECK calls a user function is refused, and nothing it raises arrives', async (_what, sql) => {
    const o = await attempt(agent, sql);
    expect(JSON.stringify(o)).not.toContain(ssn);
    expect(o.code).toBe('42501');
  });
});
