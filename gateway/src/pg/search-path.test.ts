import { describe, expect, it, beforeAll } from 'vitest';
import { analyzeQuery, loadSqlParser } from '../sql/parser.ts';
import { mayChangeSearchPath, parseProbe, resolutionPath, splitIdentifierList } from './search-path.ts';

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
      "SELECT mydb.pg_catalog.set_config('search_path', 'clinical', false)", // a database name in front
      'SELECT "SET_CONFIG"(\'search_path\', \'clinical\', false)',
      "SELECT x.set_config FROM (SELECT 1) x", // functional notation: set_config(x)
      'DO $$ BEGIN PERFORM 1; END $$',
      'CALL p()',
      'SET ROLE bob', // "$user" now means bob
      'RESET ROLE',
      'SET SESSION AUTHORIZATION bob',
    ]) {
      expect(changes(sql), sql).toBe(true);
    }
    for (const sql of ['SET statement_timeout = 5', 'SELECT 1', 'SHOW search_path', 'BEGIN', 'SELECT current_setting(\'search_path\')']) {
      expect(changes(sql), sql).toBe(false);
    }
  });

  it('splits a search_path setting the way PostgreSQL does', () => {
    expect(splitIdentifierList('"$user", public')).toEqual(['$user', 'public']);
    expect(splitIdentifierList('Clinical ,PUBLIC')).toEqual(['clinical', 'public']);
    expect(splitIdentifierList('"My Schema",x')).toEqual(['My Schema', 'x']);
    expect(splitIdentifierList('"a""b"')).toEqual(['a"b']);
    expect(splitIdentifierList('')).toEqual([]);
    expect(splitIdentifierList('  ')).toEqual([]);
    expect(splitIdentifierList(`${'a'.repeat(70)}`)).toEqual(['a'.repeat(63)]);
    expect(splitIdentifierList('"unterminated')).toBeNull();
    expect(splitIdentifierList('a,,b')).toBeNull();
    expect(splitIdentifierList('a b')).toBeNull();
  });

  it('reads the probe and builds the path names are resolved with', () => {
    const probe = (setting: string, searched: string[], user = 'gatehouse') =>
      parseProbe(JSON.stringify([setting, searched, user, null]));
    // $user only when that schema exists; pg_temp and temporary schemas left out.
    expect(resolutionPath(probe('"$user", public', ['pg_catalog', 'public'])!)).toEqual(['public']);
    expect(resolutionPath(probe('"$user", public', ['pg_catalog', 'gatehouse', 'public'])!)).toEqual(['gatehouse', 'public']);
    expect(resolutionPath(probe('pg_temp, clinical, pg_temp_3', ['pg_temp_3', 'pg_catalog', 'clinical'])!)).toEqual(['clinical']);
    // The order as set, pg_catalog where it is named, and schemas that do not exist (yet) kept.
    expect(resolutionPath(probe('pg_catalog, clinical', ['pg_catalog', 'clinical'])!)).toEqual(['pg_catalog', 'clinical']);
    expect(resolutionPath(probe('later, clinical, later', ['pg_catalog', 'clinical'])!)).toEqual(['later', 'clinical']);
    expect(resolutionPath(probe('', ['pg_catalog'])!)).toEqual([]);
    expect(parseProbe('{public}')).toBeNull();
    expect(parseProbe('["public", "x", "u"]')).toBeNull();
    expect(parseProbe('["public", ["public"], "u"]')).toBeNull();
  });

  it('reads gatehouse.reason along (null when never set, or empty after RESET)', () => {
    expect(parseProbe(JSON.stringify(['public', ['public'], 'u', 'ticket 4711']))?.reason).toBe('ticket 4711');
    expect(parseProbe(JSON.stringify(['public', ['public'], 'u', null]))?.reason).toBeNull();
    expect(parseProbe(JSON.stringify(['public', ['public'], 'u', '']))?.reason).toBeNull();
    expect(parseProbe(JSON.stringify(['public', ['public'], 'u', 7]))).toBeNull();
  });
});
