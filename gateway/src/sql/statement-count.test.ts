import { loadModule, parseSync } from 'libpg-query';
import { beforeAll, describe, expect, it } from 'vitest';
import { countStatements } from './statement-count.ts';

const parsedCount = (sql: string): number => (parseSync(sql) as { stmts?: unknown[] }).stmts?.length ?? 0;

describe('countStatements', () => {
  beforeAll(async () => {
    await loadModule();
  });

  const cases = [
    'SELECT 1',
    'SELECT 1;',
    'SELECT 1; SELECT 2',
    ';;; SELECT 1 ;; ;',
    "SELECT 'a;b'; SELECT 'it''s; fine'",
    "SELECT E'x\\';y'; SELECT 2",
    'SELECT "we;ird" FROM (SELECT 1 AS "we;ird") t; SELECT 3',
    'SELECT 1 -- ; not here\n; SELECT 2',
    'SELECT 0; -- a carriage return ends a comment too\rSELECT 1; SELECT 2;\n',
    'SELECT 0 -- \r\n; SELECT 1',
    'SELECT /* a ; /* nested ; */ still ; */ 1; SELECT 2',
    'SELECT $$a;b$$; SELECT $tag$ ; $$ ; $tag$; SELECT 3',
    'CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $f$ SELECT 1; SELECT 2 $f$; SELECT f()',
    'SELECT 1 AS x$y; SELECT 2',
    "SELECT U&'d\\0061t;a'; SELECT 2",
  ];
  for (const sql of cases) {
    it(`counts like the parser: ${JSON.stringify(sql)}`, () => {
      expect(countStatements(sql)).toBe(parsedCount(sql));
    });
  }

  it('an empty string has no statement', () => {
    expect(countStatements('')).toBe(0);
    expect(countStatements(' ; ;')).toBe(0);
  });

  it('stops counting as soon as the count is over stopAbove: the rest is not read', () => {
    expect(countStatements('SELECT 1;'.repeat(40_000), 1000)).toBe(1001);
    // An unterminated quote after the stop point would otherwise make the scan run to the end as one piece.
    expect(countStatements(`${'SELECT 1;'.repeat(5)}SELECT '${';'.repeat(100)}`, 3)).toBe(4);
    expect(countStatements('SELECT 1;SELECT 2', 3)).toBe(2);
  });

  it('counts 40,000 short statements', () => {
    const sql = Array.from({ length: 40_000 }, (_, i) => `SELECT ${i}`).join(';');
    expect(countStatements(sql)).toBe(40_000);
  });

  it('over-counts a BEGIN ATOMIC body (an upper bound, never an under-count)', () => {
    const sql = 'CREATE FUNCTION g() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END; SELECT 3';
    expect(countStatements(sql)).toBeGreaterThanOrEqual(parsedCount(sql));
  });
});
