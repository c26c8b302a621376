import { beforeAll, describe, expect, it } from 'vitest';
import { loadModule, parseSync } from 'libpg-query';
import { callsAggregate } from './aggregate-calls.ts';
import { RoutineCatalog } from './routine-catalog.ts';

const routines = new RoutineCatalog([
  { kind: 'function', schema: 'pg_catalog', name: 'lower', harmless: true, retset: false },
  { kind: 'function', schema: 'public', name: 'my_agg', harmless: false, retset: false },
]);

/** Whether the select list of `sql` calls an aggregate. */
function selectListAggregates(sql: string, catalog: RoutineCatalog | null = routines): boolean {
  const stmt = (parseSync(sql) as { stmts: { stmt: { SelectStmt: { targetList: unknown } } }[] }).stmts[0]!.stmt.SelectStmt;
  return callsAggregate(stmt.targetList, catalog);
}

beforeAll(async () => {
  await loadModule();
});

describe('callsAggregate', () => {
  it.each([
    ['SELECT count(*) FROM t', true],
    ['SELECT lower(max(a)) FROM t', true],
    ['SELECT pg_catalog.sum(a) FROM t', true],
    ['SELECT lower(a) FROM t', false],
    ['SELECT a FROM t', false],
    // A window function returns a row per row read.
    ['SELECT count(*) OVER () FROM t', false],
    // An aggregate in a subquery groups the subquery's rows, not the statement's.
    ['SELECT (SELECT count(*) FROM u) FROM t', false],
    ['SELECT a IN (SELECT max(b) FROM u) FROM t', false],
    ['SELECT max(a) IN (SELECT b FROM u) FROM t', true],
    ['SELECT json_arrayagg(a) FROM t', true],
    ['SELECT lower(a ORDER BY a) FROM t', true],
  ])('%s: %s', (sql, expected) => {
    expect(selectListAggregates(sql)).toBe(expected);
  });

  it('takes a function it cannot show to be harmless for a possible aggregate', () => {
    expect(selectListAggregates('SELECT my_agg(a) FROM t')).toBe(true);
    expect(selectListAggregates('SELECT public.my_agg(a) FROM t')).toBe(true);
    expect(selectListAggregates('SELECT unknown_fn(a) FROM t')).toBe(true);
    expect(selectListAggregates('SELECT lower(a) FROM t', null)).toBe(true);
  });
});
