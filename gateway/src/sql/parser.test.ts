import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ParseOutcome } from './facts.ts';
import { AnalysisStopped, analyzeCacheStats, analyzeQuery, analyzeQueryInSlices, analyzeQueryUncached, clearAnalyzeCache, loadSqlParser } from './parser.ts';
import { SliceStop } from '../work-slices.ts';

beforeAll(loadSqlParser);

function texts(outcome: ParseOutcome): string[] {
  if (!outcome.ok) throw new Error(outcome.error);
  return outcome.statements.map((s) => s.text);
}

describe('splitting a query string', () => {
  it.each<[string, string, string[]]>([
    ['two statements', 'SELECT 1; SELECT 2', ['SELECT 1', 'SELECT 2']],
    ['trailing semicolon and spaces', '  SELECT 1 ;  ', ['SELECT 1']],
    ['three, mixed kinds', 'BEGIN; UPDATE t SET a = 1; COMMIT;', ['BEGIN', 'UPDATE t SET a = 1', 'COMMIT']],
    ['semicolon inside a string literal', "SELECT ';'; SELECT 2", ["SELECT ';'", 'SELECT 2']],
    ['semicolon inside a dollar-quoted body', 'DO $$ BEGIN PERFORM 1; END $$; SELECT 1', ['DO $$ BEGIN PERFORM 1; END $$', 'SELECT 1']],
    ['newlines kept inside a statement', 'SELECT\n  1;\nSELECT 2', ['SELECT\n  1', 'SELECT 2']],
    ['non-ASCII text (offsets are bytes)', "SELECT 'é'; SELECT 'ü' AS \"naïve\"", ["SELECT 'é'", 'SELECT \'ü\' AS "naïve"']],
    ['emoji (4-byte UTF-8)', "SELECT '😀'; SELECT 2", ["SELECT '😀'", 'SELECT 2']],
  ])('%s', (_name, sql, expected) => {
    expect(texts(analyzeQueryUncached(sql))).toEqual(expected);
  });

  it('gives each statement its own facts', () => {
    const outcome = analyzeQueryUncached('SELECT * FROM a; DELETE FROM b');
    if (!outcome.ok) throw new Error(outcome.error);
    expect(outcome.statements.map((s) => s.facts.kind)).toEqual(['select', 'delete']);
    expect(outcome.statements[0]?.facts.tablesRead.map((t) => t.qualified)).toEqual(['public.a']);
    expect(outcome.statements[1]?.facts.tablesWritten.map((t) => t.qualified)).toEqual(['public.b']);
  });
});

describe('empty query strings', () => {
  it.each(['', '   ', ';', ' ; ; ', '-- only a comment', '/* c */'])('%j is one empty statement', (sql) => {
    const outcome = analyzeQueryUncached(sql);
    if (!outcome.ok) throw new Error(outcome.error);
    expect(outcome.statements).toHaveLength(1);
    expect(outcome.statements[0]?.facts.kind).toBe('empty');
    expect(outcome.statements[0]?.facts.writes).toBe(false);
  });
});

describe('syntax errors', () => {
  it.each<[string, string, number]>([
    ['misspelled keyword', 'SELEC 1', 1],
    ['error in the second statement', 'SELECT 1; SELEC 2', 11],
    ['after non-ASCII text: a character position', "SELECT 'ééé' FROM WHERE", 19],
    ['unterminated string', "SELECT 'abc", 8],
  ])('%s', (_name, sql, position) => {
    const outcome = analyzeQueryUncached(sql);
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.error).toMatch(/syntax error|unterminated/);
    expect(outcome.position).toBe(position);
  });

  it('never throws for garbage', () => {
    for (const sql of ['(((', '$$', 'SELECT * FROM', '\u0001', 'COPY']) {
      expect(() => analyzeQueryUncached(sql)).not.toThrow();
    }
  });
});

describe('fingerprint', () => {
  function first(sql: string) {
    const outcome = analyzeQueryUncached(sql);
    if (!outcome.ok) throw new Error(outcome.error);
    const s = outcome.statements[0];
    if (s === undefined) throw new Error('no statement');
    return s.facts;
  }

  it('fingerprint is stable across literal values and differs across shapes', () => {
    expect(first("SELECT * FROM t WHERE a = 'x'").fingerprint).toBe(first("SELECT * FROM t WHERE a = 'y'").fingerprint);
    expect(first('SELECT * FROM t WHERE a = 1').fingerprint).not.toBe(first('SELECT * FROM u WHERE a = 1').fingerprint);
    expect(first('SELECT 1').fingerprint).toMatch(/^[0-9a-f]{16}$/);
  });

  it('each statement of a multi-statement string is fingerprinted alone', () => {
    const outcome = analyzeQueryUncached("SELECT 'a'; SELECT 'b' FROM t");
    if (!outcome.ok) throw new Error(outcome.error);
    expect(outcome.statements[0]?.facts.fingerprint).toBe(first('SELECT 1').fingerprint);
    expect(outcome.statements[1]?.facts.fingerprint).toBe(first('SELECT 1 FROM t').fingerprint);
  });
});

describe('analyze cache', () => {
  beforeEach(clearAnalyzeCache);

  it('a repeated statement is served from the cache', () => {
    const a = analyzeQuery('SELECT * FROM patients');
    const b = analyzeQuery('SELECT * FROM patients');
    expect(b).toBe(a);
    expect(analyzeCacheStats()).toMatchObject({ hits: 1, misses: 1, size: 1 });
  });

  it('is keyed by search_path too', () => {
    const a = analyzeQuery('SELECT * FROM patients');
    const b = analyzeQuery('SELECT * FROM patients', { searchPath: ['clinic'] });
    expect(b).not.toBe(a);
    if (!b.ok) throw new Error(b.error);
    expect(b.statements[0]?.facts.tablesRead[0]?.qualified).toBe('clinic.patients');
    expect(analyzeCacheStats()).toMatchObject({ hits: 0, misses: 2, size: 2 });
  });

  it('caches syntax errors too', () => {
    analyzeQuery('SELEC 1');
    expect(analyzeQuery('SELEC 1').ok).toBe(false);
    expect(analyzeCacheStats().hits).toBe(1);
  });

  it('returns frozen outcomes, so a caller cannot change facts others will see', () => {
    const outcome = analyzeQuery('SELECT ssn FROM patients');
    if (!outcome.ok) throw new Error(outcome.error);
    const facts = outcome.statements[0]?.facts;
    expect(Object.isFrozen(facts?.tablesRead)).toBe(true);
    expect(() => facts?.tablesRead.push(facts.tablesRead[0]!)).toThrow(TypeError);
  });
});

describe('analysis in slices with a stop', () => {
  it('stops between slices with the statement texts, and caches nothing', async () => {
    clearAnalyzeCache();
    const text = Array.from({ length: 3000 }, (_, i) => `SELECT ${i} AS stop_${i} FROM t${i} WHERE c = ${i}`).join('; ');
    const stop = new SliceStop();
    const analyzed = analyzeQueryInSlices(text, { stop });
    expect(analyzed).toBeInstanceOf(Promise); // more than one slice of work
    stop.stop('cancelled');
    const e = await (analyzed as Promise<ParseOutcome>).then(
      () => null,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(AnalysisStopped);
    expect((e as AnalysisStopped).texts).toHaveLength(3000);
    expect((e as AnalysisStopped).texts[1]).toBe('SELECT 1 AS stop_1 FROM t1 WHERE c = 1');
    expect(analyzeCacheStats().size).toBe(0);
  });
});
