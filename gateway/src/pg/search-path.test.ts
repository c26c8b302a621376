import { describe, expect, it, beforeAll } from 'vitest';
import { analyzeQuery, loadSqlParser } from '../sql/parser.ts';
import { mayChangeSearchPath, parseNameArray } from './search-path.ts';

beforeAll(loadSqlParser);

function changes(sql: string): boolean {
  const outcome = analyzeQuery(sql);
  if (!outcome.ok) throw new Error(outcome.error);
  return outcome.statements.some((s) => mayChangeSearchPath(s.facts));
}

describe('search_path following', () => {
  it('recognises statements that may change the search path', () => {
    for (const sql of [
      'SET search_path = clinical',
      'SET LOCAL search_path TO clinical, public',
      'SET SCHEMA \'clinical\'',
      'RESET search_path',
      'RESET ALL',
      'DISCARD ALL',
      "SELECT set_config('search_path', 'clinical', false)",
      "SELECT pg_catalog.set_config('search_path', 'clinical', true)",
      'DO $$ BEGIN PERFORM 1; END $$',
      'CALL p()',
    ]) {
      expect(changes(sql), sql).toBe(true);
    }
    for (const sql of ['SET statement_timeout = 5', 'SELECT 1', 'SHOW search_path', 'BEGIN']) {
      expect(changes(sql), sql).toBe(false);
    }
  });

  it('parses the text form of name[]', () => {
    expect(parseNameArray('{public}')).toEqual(['public']);
    expect(parseNameArray('{clinical,public}')).toEqual(['clinical', 'public']);
    expect(parseNameArray('{"My Schema",public}')).toEqual(['My Schema', 'public']);
    expect(parseNameArray('{"a\\"b"}')).toEqual(['a"b']);
    expect(parseNameArray('{}')).toEqual([]);
    expect(parseNameArray('public')).toBeNull();
    expect(parseNameArray('{"unterminated}')).toBeNull();
  });
});
