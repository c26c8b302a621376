import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { normalizeSync } from 'libpg-query';
import type { ParseOutcome, ParsedStatement } from './facts.ts';
import { analyzeCacheStats, analyzeQuery, analyzeQueryUncached, clearAnalyzeCache, loadSqlParser, shapeCacheStats } from './parser.ts';

beforeAll(loadSqlParser);
beforeEach(clearAnalyzeCache);

function only(outcome: ParseOutcome): ParsedStatement {
  if (!outcome.ok) throw new Error(outcome.error);
  expect(outcome.statements).toHaveLength(1);
  return outcome.statements[0]!;
}

/** What a text analyzed through the caches is, against the same text parsed on its own. */
function expectSameAsParsed(text: string, searchPath?: string[]): ParsedStatement {
  const options = searchPath === undefined ? undefined : { searchPath };
  const cached = only(analyzeQuery(text, options));
  const fresh = only(analyzeQueryUncached(text, options));
  expect(cached.text, text).toBe(fresh.text);
  expect(cached.facts, text).toEqual(fresh.facts);
  return cached;
}

describe('statements that differ only in literal values', () => {
  it('share the facts of the first one, with their own text', () => {
    const first = only(analyzeQuery('SELECT abalance FROM pgbench_accounts WHERE aid = 12345;'));
    const second = only(analyzeQuery('SELECT abalance FROM pgbench_accounts WHERE aid = 678;'));
    expect(second.text).toBe('SELECT abalance FROM pgbench_accounts WHERE aid = 678');
    expect(second.facts).toBe(first.facts);
    expect(shapeCacheStats().hits).toBe(1);
    expect(Object.isFrozen(second)).toBe(true);
  });

  it('are found by their quick shape once it stands for their normalized shape (no parser call)', () => {
    const first = only(analyzeQuery('SELECT abalance FROM pgbench_accounts WHERE aid = 1;'));
    only(analyzeQuery('SELECT abalance FROM pgbench_accounts WHERE aid = 2;'));
    const third = only(analyzeQuery('SELECT abalance FROM pgbench_accounts WHERE aid = 3;'));
    expect(third.facts).toBe(first.facts);
    expect(third.text).toBe('SELECT abalance FROM pgbench_accounts WHERE aid = 3');
    expect(shapeCacheStats()).toMatchObject({ hits: 2, quickHits: 2 });
  });

  it('are answered by their integer template before the exact cache is asked (no miss there per new literal)', () => {
    analyzeQuery('SELECT abalance FROM pgbench_accounts WHERE aid = 1;');
    analyzeQuery('SELECT abalance FROM pgbench_accounts WHERE aid = 2;');
    const exactMisses = analyzeCacheStats().misses;
    for (let aid = 3; aid < 40; aid++) expectSameAsParsed(`SELECT abalance FROM pgbench_accounts WHERE aid = ${aid};`);
    expect(analyzeCacheStats().misses).toBe(exactMisses);
    expect(shapeCacheStats()).toMatchObject({ hits: 38, quickHits: 38 });
    // the first text of the shape, filed by its own text, is answered the same by its shape now
    expectSameAsParsed('SELECT abalance FROM pgbench_accounts WHERE aid = 1;');
    // and a text of another search_path is not answered by this one's shape
    const other = expectSameAsParsed('SELECT abalance FROM pgbench_accounts WHERE aid = 41;', ['bank']);
    expect(other.facts.tablesRead[0]?.qualified).toBe('bank.pgbench_accounts');
  });

  it('share with texts of the same normalized shape whose quick shapes differ', () => {
    analyzeQuery('SELECT * FROM t WHERE id = 3 LIMIT 5');
    const other = expectSameAsParsed('SELECT * FROM t WHERE id = 4 LIMIT 10');
    expect(other.facts.hasLimit).toBe(true);
    expect(shapeCacheStats()).toMatchObject({ hits: 1, quickHits: 0 });
    expectSameAsParsed('SELECT * FROM t WHERE id = 5 LIMIT 10');
    expect(shapeCacheStats()).toMatchObject({ hits: 2, quickHits: 1 });
  });

  it('keep what surrounds the statement out of its text', () => {
    analyzeQuery("  /* app */ SELECT name FROM t WHERE id = 'a' ; -- trailing\n");
    const s = expectSameAsParsed("  /* app */ SELECT name FROM t WHERE id = 'bcd' ; -- trailing\n");
    expect(s.text).toBe("SELECT name FROM t WHERE id = 'bcd'");
    expect(shapeCacheStats().hits).toBe(1);
  });

  it('with blanks around the statement get the text and facts a fresh parse gives', () => {
    analyzeQuery('SELECT name FROM t WHERE id = 1');
    for (const blank of [' ', '\t', '\n', '\u000b', '\u000c', '\r']) {
      const s = expectSameAsParsed(`${blank}SELECT name FROM t WHERE id = 2${blank}`);
      expect(s.text).toBe('SELECT name FROM t WHERE id = 2');
    }
  });

  it('share across literal types and non-ASCII values', () => {
    analyzeQuery("SELECT id FROM t WHERE a = 1 AND b = 'x'");
    expectSameAsParsed("SELECT id FROM t WHERE a = 'é😀' AND b = E'y\\'z'");
    expectSameAsParsed('SELECT id FROM t WHERE a = 2.5e3 AND b = true');
    expect(shapeCacheStats().hits).toBe(2);
  });

  it('are told apart by search_path', () => {
    analyzeQuery('SELECT * FROM t WHERE id = 1', { searchPath: ['public'] });
    const other = expectSameAsParsed('SELECT * FROM t WHERE id = 2', ['app']);
    expect(other.facts.tablesRead.map((t) => t.qualified)).toEqual(['app.t']);
  });
});

describe('facts that depend on a literal value are never taken from another value', () => {
  // Each pair normalizes to the same shape; the facts of the second differ from the first's. Both
  // orders are checked: whichever is seen first, the other still gets its own facts.
  const pairs: Array<[string, string, string]> = [
    ['has_limit: LIMIT n and LIMIT NULL', 'SELECT * FROM t LIMIT 5', 'SELECT * FROM t LIMIT NULL'],
    ['has_limit: LIMIT n and LIMIT ALL', 'SELECT * FROM t LIMIT 5', 'SELECT * FROM t LIMIT ALL'],
    ['has_limit: FETCH FIRST n and NULL', 'SELECT * FROM t FETCH FIRST 3 ROWS ONLY', 'SELECT * FROM t FETCH FIRST NULL ROWS ONLY'],
    ['has_limit inside EXPLAIN', 'EXPLAIN SELECT * FROM t LIMIT 1', 'EXPLAIN SELECT * FROM t LIMIT NULL'],
    ['has_limit inside DECLARE CURSOR', 'DECLARE c CURSOR FOR SELECT * FROM t LIMIT 1', 'DECLARE c CURSOR FOR SELECT * FROM t LIMIT ALL'],
    ['set_config name', "SELECT set_config('application_name', 'x', false)", "SELECT set_config('search_path', 'x', false)"],
    ['set_config value', "SELECT set_config('standard_conforming_strings', 'on', false)", "SELECT set_config('standard_conforming_strings', 'off', false)"],
    ['SET value', 'SET standard_conforming_strings = on', 'SET standard_conforming_strings = off'],
    ['SET LOCAL value', "SET LOCAL client_encoding = 'UTF8'", "SET LOCAL client_encoding = 'SJIS'"],
    ['EXPLAIN ANALYZE option', 'EXPLAIN (ANALYZE off) DELETE FROM t', 'EXPLAIN (ANALYZE on) DELETE FROM t'],
    ['fingerprint: NOTIFY payload', "NOTIFY ch, 'a'", "NOTIFY ch, 'b'"],
  ];
  it.each(pairs)('%s', (_name, a, b) => {
    const fa = only(analyzeQueryUncached(a)).facts;
    const fb = only(analyzeQueryUncached(b)).facts;
    expect(fa, 'the pair must differ in its facts, or the test proves nothing').not.toEqual(fb);
    for (const [first, second] of [
      [a, b],
      [b, a],
    ] as const) {
      clearAnalyzeCache();
      expectSameAsParsed(first);
      expectSameAsParsed(second);
      expectSameAsParsed(first);
    }
  });

  it('LIMIT with a constant is still shared while the value is not NULL', () => {
    analyzeQuery('SELECT * FROM t WHERE id = 3 LIMIT 5');
    expect(expectSameAsParsed('SELECT * FROM t WHERE id = 4 LIMIT 10').facts.hasLimit).toBe(true);
    expect(shapeCacheStats().hits).toBe(1);
  });

  it('every literal of a corpus replaced by other values gives the facts of a fresh parse', () => {
    const corpus = [
      'SELECT a, b FROM s.t WHERE a = 1 AND b > 2 ORDER BY a LIMIT 3 OFFSET 4',
      "UPDATE t SET a = 1, b = 'x' WHERE id = 2",
      "INSERT INTO t (a, b) VALUES (1, 'x') RETURNING id",
      'DELETE FROM t WHERE id IN (1, 2, 3)',
      "SELECT pg_sleep(1), lower('X'), now() - interval '1 day'",
      "SELECT set_config('work_mem', '64MB', true)",
      'SET statement_timeout = 5',
      "NOTIFY ch, 'payload'",
      'SELECT * FROM t LIMIT 7',
      'SELECT count(*) FROM t GROUP BY a HAVING count(*) > 1',
      "COPY (SELECT * FROM t WHERE a = 1) TO STDOUT WITH (FORMAT csv)",
      'WITH d AS (DELETE FROM t WHERE id = 1 RETURNING *) SELECT * FROM d',
      'SELECT * FROM t FOR UPDATE SKIP LOCKED LIMIT 1',
    ];
    const values = ['0', '42', '-1', 'NULL', "'off'", "'on'", "''", "'x y'", 'true', 'ALL'];
    let compared = 0;
    for (const sql of corpus) {
      const literals = [...sql.matchAll(/'[^']*'|\b\d+\b/g)];
      for (const value of values) {
        for (const lit of literals) {
          const variant = sql.slice(0, lit.index) + value + sql.slice(lit.index + lit[0].length);
          if (!analyzeQueryUncached(variant).ok) continue;
          clearAnalyzeCache();
          analyzeQuery(sql);
          expectSameAsParsed(variant);
          compared++;
        }
      }
    }
    expect(compared).toBeGreaterThan(200);
  });
});

describe('what is not shared', () => {
  it('texts with a $: parameters and dollar quotes normalize like literals', () => {
    analyzeQuery('SELECT 5, 7 FROM t');
    const s = expectSameAsParsed('SELECT $1, 7 FROM t');
    expect(s.text).toBe('SELECT $1, 7 FROM t');
    expect(shapeCacheStats().hits).toBe(0);
  });

  it('query strings of several statements', () => {
    analyzeQuery('SELECT 1; SELECT 2');
    const outcome = analyzeQuery('SELECT 3; SELECT 4');
    expect(outcome.ok && outcome.statements.map((s) => s.text)).toEqual(['SELECT 3', 'SELECT 4']);
    expect(shapeCacheStats().hits).toBe(0);
  });
});

describe('the normalized text a shared statement carries (for the audit log)', () => {
  it.each([
    ['SELECT abalance FROM pgbench_accounts WHERE aid = 12345;', 'SELECT abalance FROM pgbench_accounts WHERE aid = 678;'],
    ["  /* by agent */ SELECT id FROM t WHERE name = 'Ann' AND age > 40 ;  -- done", "  /* by agent */ SELECT id FROM t WHERE name = 'Bob' AND age > 7 ;  -- done"],
    ["SELECT id FROM t WHERE x = -5 AND y = E'a\\'b' LIMIT 3", "SELECT id FROM t WHERE x = -70 AND y = E'zz' LIMIT 1000"],
  ])('is the statement\'s own normalized text: %s', (first, second) => {
    analyzeQuery(first);
    const shared = only(analyzeQuery(second));
    expect(shared.shape).toBeDefined();
    expect(shared.shape).toBe(normalizeSync(shared.text));
  });
});
