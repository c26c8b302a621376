import { beforeAll, describe, expect, it } from 'vitest';
import { analyzeQuery, loadSqlParser } from '../sql/parser.ts';
import { settingRefusal, type BoundParameters } from './setting-guard.ts';

beforeAll(async () => {
  await loadSqlParser();
});

/** The audit reason of the refusal, or null when the statement may go on to the policy. */
function refusal(sql: string, params: BoundParameters = []): string | null {
  const o = analyzeQuery(sql);
  if (!o.ok) throw new Error(o.error);
  for (const s of o.statements) {
    const r = settingRefusal(s.facts.settingChanges, params);
    if (r) return r.reason;
  }
  return null;
}

describe('settingRefusal', () => {
  it.each([
    'SET standard_conforming_strings = off',
    'SET standard_conforming_strings TO false',
    'SET LOCAL standard_conforming_strings = 0',
    "SET client_encoding = 'GBK'",
    "SET NAMES 'big5'",
    "SET client_encoding = 'klingon'",
    'SET standard_conforming_strings = on, off',
    'ALTER ROLE agent SET standard_conforming_strings = off',
    "ALTER DATABASE db SET client_encoding = 'SJIS'",
    'ALTER SYSTEM SET standard_conforming_strings = off',
    "CREATE FUNCTION f() RETURNS int LANGUAGE sql SET client_encoding = 'johab' AS 'select 1'",
    "SELECT set_config('standard_conforming_strings', 'off', false)",
    "SELECT pg_catalog.set_config('client_encoding', 'mskanji', true)",
    "SELECT db.pg_catalog.set_config('Client_Encoding', 'Windows-932', false)",
    "SELECT set_config('client_encoding', lower('UTF8'), false)",
    "SELECT set_config(lower('search_path'), 'x', false)",
    'SELECT set_config($1, $2, false)',
    "SELECT 1; SET client_encoding = 'GBK'",
  ])('refuses %s', (sql) => {
    expect(refusal(sql)).not.toBeNull();
  });

  it.each([
    'SET standard_conforming_strings = on',
    'SET standard_conforming_strings = yes',
    "SET client_encoding = 'UTF8'",
    "SET NAMES 'LATIN1'",
    "SET client_encoding = 'iso-8859-15'",
    'SET client_encoding TO DEFAULT',
    'RESET client_encoding',
    'RESET standard_conforming_strings',
    'RESET ALL',
    'DISCARD ALL',
    'ALTER ROLE agent RESET ALL',
    'SET search_path = clinical',
    "SELECT set_config('search_path', 'clinical', false)",
    "SELECT set_config('search_path', $1, false)",
    "SELECT set_config('application_name', current_user, false)",
    "SELECT set_config('client_encoding', 'UTF8', false)",
    'SET TRANSACTION ISOLATION LEVEL SERIALIZABLE',
  ])('lets %s through to the policy', (sql) => {
    expect(refusal(sql)).toBeNull();
  });

  it('defers $n parameters of a statement being prepared, and decides on the values bound to it', () => {
    const sql = 'SELECT set_config($1, $2, false)';
    expect(refusal(sql, 'unbound')).toBeNull();
    expect(refusal(sql, [Buffer.from('search_path'), Buffer.from('clinical')])).toBeNull();
    expect(refusal(sql, [Buffer.from('client_encoding'), Buffer.from('LATIN1')])).toBeNull();
    expect(refusal(sql, [Buffer.from('standard_conforming_strings'), Buffer.from('off')])).toContain('standard_conforming_strings');
    expect(refusal(sql, [Buffer.from('CLIENT_ENCODING'), Buffer.from('sjis')])).toContain('client_encoding');
    // R7-3: the audit reason never holds the value (a literal, or a bound parameter); the client's error does.
    expect(refusal(sql, [Buffer.from('client_encoding'), Buffer.from('Jane Roe 123-45-6789')])).not.toMatch(/Jane|123-45/);
    const parsed = analyzeQuery("SET client_encoding TO 'Jane Roe'");
    if (!parsed.ok) throw new Error(parsed.error);
    expect(settingRefusal(parsed.statements[0]!.facts.settingChanges, [])!.error('d').message).toContain('Jane Roe');
    expect(refusal(sql, [Buffer.from('client_encoding'), null])).not.toBeNull();
    expect(refusal(sql, [Buffer.from('client_encoding')])).not.toBeNull(); // $2 not bound: unknown
    expect(refusal(sql, [])).not.toBeNull();
  });

  it('does not judge $n of a PREPARE body by the values bound to the PREPARE statement itself', () => {
    const sql = 'PREPARE p(text, text) AS SELECT set_config($1, $2, false)';
    expect(refusal(sql, [Buffer.from('search_path'), Buffer.from('x')])).not.toBeNull();
  });

  it('gives the client ERROR 22023 with the decision id', () => {
    const o = analyzeQuery('SET standard_conforming_strings = off');
    if (!o.ok) throw new Error(o.error);
    const e = settingRefusal(o.statements[0]!.facts.settingChanges, [])!.error('d-42');
    expect([e.sqlstate, e.severity, e.decisionId]).toEqual(['22023', 'ERROR', 'd-42']);
  });
});
