import { beforeAll, describe, expect, it } from 'vitest';
import { analyzeQueryUncached, loadSqlParser } from './parser.ts';
import type { WrittenName } from './facts.ts';

beforeAll(async () => {
  await loadSqlParser();
});

function named(sql: string): { operators: string[]; types: string[] } {
  const outcome = analyzeQueryUncached(sql);
  if (!outcome.ok) throw new Error(outcome.error);
  const show = (ns: readonly WrittenName[]): string[] => ns.map((n) => (n.schema === null ? n.name : `${n.schema}.${n.name}`)).sort();
  const all = outcome.statements.flatMap((s) => [s.facts]);
  return { operators: show(all.flatMap((f) => f.operators)), types: show(all.flatMap((f) => f.types)) };
}

describe('operators in the statement facts (R12-8)', () => {
  it('lists infix, prefix and OPERATOR(schema.op) forms, once each', () => {
    expect(named('SELECT 1 === 1, 2 === 2, -b, 4 OPERATOR(public.===) 4 FROM t').operators).toEqual(['-', '===', 'public.===']);
  });

  it('lists the operators of ANY/ALL over arrays and subqueries, IN, LIKE, IS DISTINCT FROM, NULLIF', () => {
    expect(named('SELECT 1 === ANY (ARRAY[1]), 1 OPERATOR(s.~~~) ALL (ARRAY[2])').operators).toEqual(['===', 's.~~~']);
    expect(named('SELECT 1 WHERE 1 === ANY (SELECT 1) AND 2 OPERATOR(s.<<<) ALL (SELECT 2)').operators).toEqual(['===', 's.<<<']);
    expect(named("SELECT 1 IN (1, 2), 1 NOT IN (3), 'a' LIKE 'b', 1 IS DISTINCT FROM 2, nullif(1, 2)").operators).toEqual(['<>', '=', '~~']);
  });

  it('lists the operators PostgreSQL looks up for BETWEEN, CASE x WHEN, ORDER BY USING, JOIN USING and EXCLUDE', () => {
    expect(named('SELECT 1 BETWEEN 0 AND 2').operators).toEqual(['<=', '>=']);
    expect(named('SELECT 1 NOT BETWEEN SYMMETRIC 0 AND 2').operators).toEqual(['<', '>']);
    expect(named("SELECT CASE 1 WHEN 2 THEN 'x' END").operators).toEqual(['=']);
    expect(named('SELECT a FROM t ORDER BY a USING OPERATOR(public.<<<)').operators).toEqual(['public.<<<']);
    expect(named('SELECT * FROM a JOIN b USING (id)').operators).toEqual(['=']);
    expect(named('SELECT * FROM a NATURAL JOIN b').operators).toEqual(['=']);
    expect(named('CREATE TABLE r (c int, EXCLUDE USING gist (c WITH public.&&&))').operators).toEqual(['public.&&&']);
  });

  it('finds them nested: subqueries, CTEs, LATERAL, DEFAULT and CHECK expressions, DML, EXPLAIN, PREPARE, SQL-standard bodies', () => {
    expect(named('SELECT (SELECT 1 === 1)').operators).toEqual(['===']);
    expect(named('WITH c AS (SELECT 1 === 1 AS v) SELECT v FROM c').operators).toEqual(['===']);
    expect(named('SELECT * FROM t, LATERAL (SELECT 1 === t.a) s').operators).toEqual(['===']);
    expect(named('SELECT * FROM a JOIN b ON a.x === b.x').operators).toEqual(['===']);
    expect(named('CREATE TABLE d (c boolean DEFAULT 1 === 1, e int CHECK (e === 1))').operators).toEqual(['===']);
    expect(named('UPDATE t SET a = 1 WHERE b === 2 RETURNING a @@@ 1').operators).toEqual(['===', '@@@']);
    expect(named('INSERT INTO t VALUES (1 === 1) ON CONFLICT (a) DO UPDATE SET a = excluded.a ### 1').operators).toEqual(['###', '===']);
    expect(named('EXPLAIN SELECT 1 === 1').operators).toEqual(['===']);
    expect(named('PREPARE p AS SELECT $1 === 1').operators).toEqual(['===']);
    expect(named('COPY (SELECT 1 === 1) TO STDOUT').operators).toEqual(['===']);
    expect(named('CREATE FUNCTION f() RETURNS boolean LANGUAGE sql RETURN 1 === 1').operators).toEqual(['===']);
  });
});

describe('types in the statement facts (R12-8)', () => {
  it("lists a cast's type in every spelling, qualified or not, arrays too", () => {
    expect(named("SELECT 1::public.leaky, CAST(2 AS leaky), '{}'::leaky[], x::db.s.t FROM u").types).toEqual(['leaky', 'public.leaky', 's.t']);
    expect(named('SELECT 1::int').types).toEqual(['pg_catalog.int4']);
  });

  it('finds them nested and in definitions: subqueries, CTEs, DEFAULTs, column types, signatures, XMLTABLE columns', () => {
    expect(named('WITH c AS (SELECT (SELECT 1::leaky) AS v) SELECT v FROM c').types).toEqual(['leaky']);
    expect(named('CREATE TABLE d (c public.leaky DEFAULT 1::other)').types).toEqual(['other', 'public.leaky']);
    expect(named('CREATE DOMAIN d2 AS public.leaky').types).toEqual(['public.leaky']);
    expect(named('CREATE FUNCTION f(x leaky) RETURNS public.other LANGUAGE sql RETURN 1').types).toEqual(['leaky', 'public.other']);
    expect(named('ALTER TABLE t ALTER COLUMN c TYPE leaky').types).toEqual(['leaky']);
    expect(named('SELECT * FROM f() AS r(a leaky)').types).toEqual(['leaky']);
    expect(named("SELECT * FROM XMLTABLE('/r' PASSING '<r/>' COLUMNS a leaky PATH 'a')").types).toEqual(['leaky']);
  });

  it('is empty for a statement that names none', () => {
    expect(named('SELECT a FROM t WHERE b')).toEqual({ operators: [], types: [] });
  });
});
