import { beforeAll, describe, expect, it } from 'vitest';
import { analyzeQuery, loadSqlParser } from '../sql/parser.ts';
import { settingNames } from './setting-names.ts';

beforeAll(async () => {
  await loadSqlParser();
});

function settingsOf(sql: string): string[] {
  const o = analyzeQuery(sql);
  if (!o.ok) throw new Error(o.error);
  expect(o.statements).toHaveLength(1);
  return settingNames(o.statements[0]!.facts.settingChanges);
}

describe('settingNames (statement.settings)', () => {
  it.each([
    ['SET ROLE postgres', ['role']],
    ['SET SESSION AUTHORIZATION postgres', ['session_authorization']],
    ['RESET ROLE', ['role']],
    ['SET LOCAL "Search_Path" = app', ['search_path']],
    ["SELECT set_config('role', 'postgres', false)", ['role']],
    ["SELECT pg_catalog.set_config('ROLE', 'postgres', false)", ['role']],
    ["SELECT db.pg_catalog.set_config('role', 'postgres', false)", ['role']],
    ["SELECT set_config(new_value => 'postgres', setting_name => 'Session_Authorization', is_local => true)", ['session_authorization']],
    ["SELECT set_config('search_path', 'a', false), set_config('role', 'x', false), set_config('search_path', 'b', false)", ['search_path', 'role']],
    // At Parse the name is not bound yet: "$1"; each Execute is decided with the value (below).
    ['SELECT set_config($1, $2, false)', ['$1']],
    ["SELECT set_config(lower('ROLE'), 'postgres', false)", ['*']],
    ["UPDATE pg_settings SET setting = 'postgres' WHERE name = 'role'", ['*']],
    ['RESET ALL', ['all']],
    ['DISCARD ALL', ['all']],
    ["ALTER ROLE agent SET role = 'postgres'", ['role']],
    ["ALTER DATABASE db SET search_path = app", ['search_path']],
    ["CREATE FUNCTION f() RETURNS int LANGUAGE sql SET role = 'postgres' AS 'SELECT 1'", ['role']],
    ['SET TRANSACTION ISOLATION LEVEL SERIALIZABLE', ['transaction']],
    ['SELECT 1', []],
    ["SELECT current_setting('role')", []],
    ['DISCARD PLANS', []],
  ] as const)('%s → %j', (sql, expected) => {
    expect(settingsOf(sql)).toEqual(expected);
  });
});

describe('settingNames with values bound at Execute', () => {
  const changes = (): Parameters<typeof settingNames>[0] => {
    const o = analyzeQuery('SELECT set_config($1, $2, false)');
    if (!o.ok) throw new Error(o.error);
    return o.statements[0]!.facts.settingChanges;
  };

  it('names the bound parameter, lower-cased', () => {
    expect(settingNames(changes(), [Buffer.from('Search_Path'), Buffer.from('clinical')])).toEqual(['search_path']);
    expect(settingNames(changes(), [Buffer.from('ROLE'), Buffer.from('postgres')])).toEqual(['role']);
  });

  it('a NULL or missing name could be anything', () => {
    expect(settingNames(changes(), [null, Buffer.from('x')])).toEqual(['*']);
    expect(settingNames(changes(), [])).toEqual(['*']);
  });
});
