import { beforeAll, describe, expect, it } from 'vitest';
import { analyzeQuery, loadSqlParser } from './parser.ts';
import type { SettingChange } from './setting-changes.ts';

beforeAll(async () => {
  await loadSqlParser();
});

function changes(sql: string): SettingChange[] {
  const o = analyzeQuery(sql);
  if (!o.ok) throw new Error(o.error);
  return o.statements.flatMap((s) => s.facts.settingChanges);
}

const text = (t: string) => ({ kind: 'text', text: t });
const RESET = { kind: 'reset' };
const UNKNOWN = { kind: 'unknown' };

describe('settingChanges', () => {
  it.each([
    ['SET standard_conforming_strings = off', 'SET', 'standard_conforming_strings', text('off')],
    ['SET SESSION standard_conforming_strings TO 0', 'SET', 'standard_conforming_strings', text('0')],
    ['SET standard_conforming_strings = 1.0', 'SET', 'standard_conforming_strings', text('1.0')],
    ["SET LOCAL \"Client_Encoding\" = 'Shift_JIS'", 'SET', 'Client_Encoding', text('Shift_JIS')],
    ["SET NAMES 'sjis'", 'SET', 'client_encoding', text('sjis')],
    ["SET client_encoding = E'gb\\x6b'", 'SET', 'client_encoding', text('gbk')],
    ['SET standard_conforming_strings = on, off', 'SET', 'standard_conforming_strings', UNKNOWN],
    ['SET NAMES DEFAULT', 'SET', 'client_encoding', RESET],
    ['RESET client_encoding', 'SET', 'client_encoding', RESET],
    ['SET client_encoding FROM CURRENT', 'SET', 'client_encoding', RESET],
    ['RESET ALL', 'SET', 'all', RESET],
    ['DISCARD ALL', 'DISCARD ALL', 'all', RESET],
    ['ALTER ROLE agent SET standard_conforming_strings = off', 'ALTER ROLE ... SET', 'standard_conforming_strings', text('off')],
    ["ALTER ROLE agent IN DATABASE db SET client_encoding = 'big5'", 'ALTER ROLE ... SET', 'client_encoding', text('big5')],
    ["ALTER DATABASE db SET client_encoding = 'uhc'", 'ALTER DATABASE ... SET', 'client_encoding', text('uhc')],
    ['ALTER SYSTEM SET standard_conforming_strings = false', 'ALTER SYSTEM', 'standard_conforming_strings', text('false')],
    ["CREATE FUNCTION f() RETURNS int LANGUAGE sql SET client_encoding = 'johab' AS 'select 1'", 'a function SET clause', 'client_encoding', text('johab')],
    ['ALTER PROCEDURE p() SET standard_conforming_strings = off', 'a function SET clause', 'standard_conforming_strings', text('off')],
    ["SELECT set_config('standard_conforming_strings', 'off', false)", 'set_config()', 'standard_conforming_strings', text('off')],
    ["SELECT mydb.PG_CATALOG.SET_CONFIG('client_encoding'::pg_catalog.text, 'gbk'::text, true)", 'set_config()', 'client_encoding', text('gbk')],
    ["SELECT pg_catalog.set_config(new_value => 'gbk', setting_name => 'client_encoding', is_local => false)", 'set_config()', 'client_encoding', text('gbk')],
    ["SELECT * FROM set_config('client_encoding', 'gbk', false)", 'set_config()', 'client_encoding', text('gbk')],
  ] as const)('%s', (sql, origin, name, value) => {
    expect(changes(sql)).toEqual([{ origin, name: text(name), value }]);
  });

  it('reports set_config() arguments it cannot read, and $n parameters by number', () => {
    expect(changes('SELECT set_config($1, $2, false)')).toEqual([{ origin: 'set_config()', name: { kind: 'param', number: 1 }, value: { kind: 'param', number: 2 } }]);
    expect(changes("SELECT set_config(lower('X'), 'a' || 'b', false)")).toEqual([{ origin: 'set_config()', name: UNKNOWN, value: UNKNOWN }]);
    expect(changes("SELECT set_config('client_encoding'::varchar(4), NULL, false)")).toEqual([{ origin: 'set_config()', name: UNKNOWN, value: UNKNOWN }]);
    expect(changes("SELECT set_config(setting => 'client_encoding', new_value => 'gbk', is_local => false)")[0]?.name).toEqual(UNKNOWN);
  });

  it('takes $n inside PREPARE and routine bodies for their own arguments, not protocol parameters', () => {
    expect(changes('SELECT set_config($1::text, $2, false)')[0]?.name).toEqual({ kind: 'param', number: 1 });
    expect(changes('PREPARE p(text, text) AS SELECT set_config($1, $2, false)')).toEqual([{ origin: 'set_config()', name: UNKNOWN, value: UNKNOWN }]);
    const body = 'CREATE FUNCTION f(a text) RETURNS text LANGUAGE sql BEGIN ATOMIC SELECT set_config($1, $1, false); END';
    expect(changes(body)).toEqual([{ origin: 'set_config()', name: UNKNOWN, value: UNKNOWN }]);
    expect(changes('DECLARE c CURSOR FOR SELECT set_config($1, $2, false)')[0]?.name).toEqual({ kind: 'param', number: 1 });
  });

  it('reports an UPDATE of pg_settings (its rule calls set_config) as a change of an unknown parameter', () => {
    const update = { origin: 'UPDATE pg_settings', name: UNKNOWN, value: UNKNOWN };
    expect(changes("UPDATE pg_settings SET setting = 'off' WHERE name = 'standard_conforming_strings'")).toEqual([update]);
    expect(changes("WITH u AS (UPDATE mydb.pg_catalog.pg_settings SET setting = 'x' RETURNING 1) SELECT * FROM u")).toEqual([update]);
    expect(changes("UPDATE public.pg_settings SET setting = 'off'")).toEqual([]);
  });

  it('finds set_config() nested anywhere in a statement', () => {
    const sql = "WITH x AS (SELECT 1) SELECT (SELECT set_config('client_encoding', 'gbk', false)) FROM x WHERE EXISTS (SELECT set_config('a', 'b', true))";
    expect(changes(sql).map((c) => c.name)).toEqual([text('client_encoding'), text('a')]);
    expect(changes("EXPLAIN ANALYZE SELECT set_config('standard_conforming_strings', 'off', false)")).toHaveLength(1);
    expect(changes("PREPARE p AS SELECT set_config('standard_conforming_strings', 'off', false)")).toHaveLength(1);
  });

  it('finds nothing in statements that change no parameter', () => {
    for (const sql of ['SELECT 1', "SELECT current_setting('client_encoding')", 'SHOW client_encoding', 'DISCARD PLANS', 'DISCARD TEMP', "SELECT 'SET client_encoding = sjis'"]) {
      expect(changes(sql), sql).toEqual([]);
    }
  });
});
