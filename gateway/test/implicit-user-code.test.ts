// User code a statement runs without naming it: the functions of domains nested in domains, arrays
// and composite types (their CHECK constraints and DEFAULT), and those PostgreSQL picks by the types
// of the columns a statement reads or writes: operator classes' support functions and operators
// (ORDER BY, GROUP BY, DISTINCT, UNION, IN, hash and merge joins, index maintenance), and implicit
// and assignment casts. Each can read clinical.patients raw and RAISE what it read, so each must be in
// statement.user_functions, where the example policies refuse agents what is not reviewed
// (deny-user-functions). Through Gatehouse to the real PostgreSQL, with both engines.
//
// Run: GATEHOUSE_TEST_DB=gh_masking14 npx vitest run --project integration gateway/test/implicit-user-code.test.ts

import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { useRedTeamFixture } from './support/redteam-fixture.ts';

const CLEANUP = `
DROP VIEW IF EXISTS public.ddl_m14_sorted_v, public.ddl_m14_nested_v;
DROP TABLE IF EXISTS public.pgbench_m14_ddef, public.pgbench_m14_dom3, public.pgbench_m14_nested, public.pgbench_m14_sorted,
  public.pgbench_m14_sorted_arr, public.pgbench_m14_cast, public.pgbench_m14_int, public.pgbench_m14_plain;
DROP TYPE IF EXISTS public.m14_outer, public.m14_inner, public.m14_sortable, public.m14_enum CASCADE;
DROP DOMAIN IF EXISTS public.m14_ddef, public.m14_dom3, public.m14_dom2, public.m14_dom CASCADE;
DROP FUNCTION IF EXISTS public.m14_leak_default(), public.m14_leak_check(integer), public.m14_leak_cast(public.m14_enum) CASCADE;
DROP FUNCTION IF EXISTS public.m14_cmp(public.m14_sortable, public.m14_sortable), public.m14_lt(public.m14_sortable, public.m14_sortable),
  public.m14_le(public.m14_sortable, public.m14_sortable), public.m14_eq(public.m14_sortable, public.m14_sortable),
  public.m14_ge(public.m14_sortable, public.m14_sortable), public.m14_gt(public.m14_sortable, public.m14_sortable),
  public.m14_hash(public.m14_sortable) CASCADE;
`;

const SETUP = `
CREATE FUNCTION public.m14_leak_default() RETURNS integer LANGUAGE plpgsql AS $$
BEGIN
  RAISE NOTICE 'defaulted next to %', (SELECT ssn FROM clinical.patients WHERE id = 1);
  RETURN 1;
END $$;
CREATE FUNCTION public.m14_leak_check(integer) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  RAISE NOTICE 'checked next to %', (SELECT ssn FROM clinical.patients WHERE id = 1);
  RETURN true;
END $$;
-- A domain whose DEFAULT calls a user function: an INSERT that leaves the column out runs it.
CREATE DOMAIN public.m14_ddef AS integer DEFAULT public.m14_leak_default();
CREATE TABLE public.pgbench_m14_ddef (id integer, v public.m14_ddef);
-- Domains three deep: only the innermost has a CHECK.
CREATE DOMAIN public.m14_dom AS integer CHECK (public.m14_leak_check(VALUE));
CREATE DOMAIN public.m14_dom2 AS public.m14_dom;
CREATE DOMAIN public.m14_dom3 AS public.m14_dom2;
CREATE TABLE public.pgbench_m14_dom3 (v public.m14_dom3);
-- An array of a composite whose attribute is an array of a domain over the domain.
CREATE TYPE public.m14_inner AS (vs public.m14_dom2[]);
CREATE TYPE public.m14_outer AS (i public.m14_inner);
CREATE TABLE public.pgbench_m14_nested (o public.m14_outer[]);
CREATE VIEW public.ddl_m14_nested_v AS SELECT ARRAY[ROW(ROW(ARRAY[1]))]::public._m14_outer AS o;
-- A type whose default btree and hash operator classes run PL functions (operator classes need a
-- superuser: an administrator's schema). No statement below names the type or its operators.
CREATE TYPE public.m14_sortable AS (a integer);
CREATE FUNCTION public.m14_cmp(public.m14_sortable, public.m14_sortable) RETURNS integer LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  RAISE NOTICE 'compared next to %', (SELECT ssn FROM clinical.patients WHERE id = 1);
  RETURN btint4cmp($1.a, $2.a);
END $$;
CREATE FUNCTION public.m14_hash(public.m14_sortable) RETURNS integer LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  RAISE NOTICE 'hashed next to %', (SELECT ssn FROM clinical.patients WHERE id = 1);
  RETURN hashint4($1.a);
END $$;
CREATE FUNCTION public.m14_lt(public.m14_sortable, public.m14_sortable) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT public.m14_cmp($1, $2) < 0 $$;
CREATE FUNCTION public.m14_le(public.m14_sortable, public.m14_sortable) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT public.m14_cmp($1, $2) <= 0 $$;
CREATE FUNCTION public.m14_eq(public.m14_sortable, public.m14_sortable) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT public.m14_cmp($1, $2) = 0 $$;
CREATE FUNCTION public.m14_ge(public.m14_sortable, public.m14_sortable) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT public.m14_cmp($1, $2) >= 0 $$;
CREATE FUNCTION public.m14_gt(public.m14_sortable, public.m14_sortable) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT public.m14_cmp($1, $2) > 0 $$;
CREATE OPERATOR public.#<# (LEFTARG = public.m14_sortable, RIGHTARG = public.m14_sortable, FUNCTION = public.m14_lt);
CREATE OPERATOR public.#<=# (LEFTARG = public.m14_sortable, RIGHTARG = public.m14_sortable, FUNCTION = public.m14_le);
CREATE OPERATOR public.#=# (LEFTARG = public.m14_sortable, RIGHTARG = public.m14_sortable, FUNCTION = public.m14_eq, HASHES, MERGES);
CREATE OPERATOR public.#>=# (LEFTARG = public.m14_sortable, RIGHTARG = public.m14_sortable, FUNCTION = public.m14_ge);
CREATE OPERATOR public.#># (LEFTARG = public.m14_sortable, RIGHTARG = public.m14_sortable, FUNCTION = public.m14_gt);
CREATE OPERATOR CLASS public.m14_sortable_btree DEFAULT FOR TYPE public.m14_sortable USING btree AS
  OPERATOR 1 public.#<#, OPERATOR 2 public.#<=#, OPERATOR 3 public.#=#, OPERATOR 4 public.#>=#, OPERATOR 5 public.#>#,
  FUNCTION 1 public.m14_cmp(public.m14_sortable, public.m14_sortable);
CREATE OPERATOR CLASS public.m14_sortable_hash DEFAULT FOR TYPE public.m14_sortable USING hash AS
  OPERATOR 1 public.#=#, FUNCTION 1 public.m14_hash(public.m14_sortable);
CREATE TABLE public.pgbench_m14_sorted (id integer, s public.m14_sortable);
INSERT INTO public.pgbench_m14_sorted VALUES (1, ROW(1)), (2, ROW(2));
CREATE TABLE public.pgbench_m14_sorted_arr (id integer, ss public.m14_sortable[]);
INSERT INTO public.pgbench_m14_sorted_arr VALUES (1, ARRAY[ROW(1)::public.m14_sortable]), (2, ARRAY[ROW(2)::public.m14_sortable]);
CREATE VIEW public.ddl_m14_sorted_v AS SELECT id, s FROM public.pgbench_m14_sorted;
-- An implicit cast from a column's type to bigint, on a PL function (CREATE CAST needs only the type's owner).
-- (Not to integer: a write to a column of a domain over integer counts assignment casts to integer.)
CREATE TYPE public.m14_enum AS ENUM ('a', 'b');
CREATE FUNCTION public.m14_leak_cast(public.m14_enum) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
  RAISE NOTICE 'cast next to %', (SELECT ssn FROM clinical.patients WHERE id = 1);
  RETURN 1;
END $$;
CREATE CAST (public.m14_enum AS bigint) WITH FUNCTION public.m14_leak_cast(public.m14_enum) AS IMPLICIT;
CREATE TABLE public.pgbench_m14_cast (e public.m14_enum);
INSERT INTO public.pgbench_m14_cast VALUES ('a');
CREATE TABLE public.pgbench_m14_int (i bigint);
CREATE TABLE public.pgbench_m14_plain (id integer);
INSERT INTO public.pgbench_m14_plain VALUES (1);
`;

describe.each(['rego', 'cedar'] as const)('user code run implicitly is in user_functions (%s)', (engine) => {
  const rt = useRedTeamFixture({
    engine,
    cleanup: CLEANUP,
    setup: SETUP,
    policies: { ruleId: 'm14', agentTablePrefix: 'public.ddl_m14_' },
    agent: { subject: 'm14-agent', groups: ['agents', 'bench'] },
  });
  const { attempt, inBlock } = rt;
  let direct: pg.Client, agent: pg.Client, ssn: string;
  beforeAll(() => {
    ({ direct, agent, ssn } = rt);
  });

  it('the probes are live: sent directly, the domain default, the nested CHECK, the sort and the cast raise the seeded SSN', async () => {
    const seen: string[] = [];
    const listen = (n: { message?: string }): void => void seen.push(n.message ?? '');
    direct.on('notice', listen);
    try {
      await direct.query('BEGIN');
      await direct.query('INSERT INTO public.pgbench_m14_ddef (id) VALUES (1)');
      await direct.query('INSERT INTO public.pgbench_m14_dom3 VALUES (1)');
      await direct.query('ROLLBACK');
      await direct.query('SELECT id FROM public.pgbench_m14_sorted ORDER BY s');
      await direct.query('SELECT count(*) FROM public.pgbench_m14_cast WHERE e = 1');
      await new Promise((r) => setImmediate(r));
    } finally {
      direct.off('notice', listen);
    }
    expect(seen.filter((m) => m.includes(ssn)).length).toBeGreaterThanOrEqual(4);
  });

  it('a plain table beside them is still read', async () => {
    expect((await attempt(agent, 'SELECT id FROM public.pgbench_m14_plain')).code).toBeNull();
  });

  it.each([
    ['a domain whose DEFAULT calls a user function, the column left out', 'INSERT INTO public.pgbench_m14_ddef (id) VALUES (1)'],
    ['a domain whose DEFAULT calls a user function, written DEFAULT', 'INSERT INTO public.pgbench_m14_ddef VALUES (1, DEFAULT)'],
    ['a domain over a domain over the domain with the CHECK', 'INSERT INTO public.pgbench_m14_dom3 VALUES (1)'],
    ['an array of a composite holding an array of a domain over the domain', `INSERT INTO public.pgbench_m14_nested VALUES (ARRAY[ROW(ROW(ARRAY[1]))]::public._m14_outer)`],
    ['the same nested array from a literal, its type not named', `INSERT INTO public.pgbench_m14_nested VALUES ('{"(\\"(\\"\\"{1}\\"\\")\\")"}')`],
  ])('a write to a column of %s is refused, and nothing it raises arrives', async (_what, sql) => {
    const o = await inBlock(sql);
    expect(JSON.stringify(o)).not.toContain(ssn);
    expect(o.code, o.error ?? '').toBe('42501');
  });

  it.each([
    ['a cast to a domain over a domain over the domain with the CHECK', 'SELECT 1::public.m14_dom3 AS v'],
    ['a cast to an array of a composite holding an array of a nested domain', `SELECT ARRAY[ROW(ROW(ARRAY[1]))]::public._m14_outer AS v`],
    ['a view casting to the nested array', 'SELECT * FROM public.ddl_m14_nested_v'],
  ])('%s is refused, and nothing it raises arrives', async (_what, sql) => {
    const o = await attempt(agent, sql);
    expect(JSON.stringify(o)).not.toContain(ssn);
    expect(o.code, o.error ?? '').toBe('42501');
  });

  // The operator class is chosen by the column's type: no operator or function is written.
  it.each([
    ['ORDER BY', 'SELECT id FROM public.pgbench_m14_sorted ORDER BY s'],
    ['GROUP BY', 'SELECT count(*) AS n FROM public.pgbench_m14_sorted GROUP BY s'],
    ['DISTINCT', 'SELECT DISTINCT s FROM public.pgbench_m14_sorted'],
    ['UNION', 'SELECT s FROM public.pgbench_m14_sorted UNION SELECT s FROM public.pgbench_m14_sorted'],
    ['IN (subquery)', 'SELECT id FROM public.pgbench_m14_sorted WHERE s IN (SELECT s FROM public.pgbench_m14_sorted)'],
    ['a join USING the column', 'SELECT a.id FROM public.pgbench_m14_sorted a JOIN public.pgbench_m14_sorted b USING (s)'],
    ['a window partitioned by it', 'SELECT rank() OVER (PARTITION BY s) AS r FROM public.pgbench_m14_sorted'],
    ['ORDER BY an array of the type', 'SELECT id FROM public.pgbench_m14_sorted_arr ORDER BY ss'],
    ['DISTINCT a whole row holding it', 'SELECT DISTINCT t FROM public.pgbench_m14_sorted t'],
    ['ORDER BY through a view', 'SELECT id FROM public.ddl_m14_sorted_v ORDER BY s'],
    ['a VALUES list of the type, named once', 'SELECT DISTINCT x FROM (VALUES (ROW(1)::public.m14_sortable), (ROW(2)::public.m14_sortable)) v(x)'],
  ])('%s on a column whose type has a user operator class is refused, and nothing it raises arrives', async (_what, sql) => {
    const o = await attempt(agent, sql);
    expect(JSON.stringify(o)).not.toContain(ssn);
    expect(o.code, o.error ?? '').toBe('42501');
  });

  it.each([
    ['a comparison with a bigint', 'SELECT count(*) AS n FROM public.pgbench_m14_cast WHERE e = 1'],
    ['arithmetic', 'SELECT e + 1 AS n FROM public.pgbench_m14_cast'],
    ['an INSERT ... SELECT into a bigint column', 'INSERT INTO public.pgbench_m14_int SELECT e FROM public.pgbench_m14_cast'],
  ])('an implicit cast on a user function from a column type, in %s, is refused, and nothing it raises arrives', async (_what, sql) => {
    const o = await inBlock(sql);
    expect(JSON.stringify(o)).not.toContain(ssn);
    expect(o.code, o.error ?? '').toBe('42501');
  });
});
