import { beforeAll, describe, expect, it } from 'vitest';
import { buildPolicyInput } from '../input.ts';
import { analyzeQuery, loadSqlParser } from '../../sql/parser.ts';
import { CaseError, CASE_DEFAULTS, evaluationFor } from './case-input.ts';
import type { PolicyTestCase } from './types.ts';

beforeAll(async () => {
  await loadSqlParser();
});

function sqlCase(sql: string, more: Partial<PolicyTestCase> = {}): PolicyTestCase {
  return {
    name: 'c',
    file: 'f.yaml',
    line: 1,
    identity: { subject: 'agent-7', groups: ['agents'] },
    session: {},
    statement: { type: 'sql', sql, protocol: 'simple', searchPath: ['public'] },
    engines: ['rego', 'cedar'],
    expect: { decision: 'allow' },
    ...more,
  };
}

describe('evaluationFor', () => {
  it('builds the input from SQL exactly as the gateway does', () => {
    const c = sqlCase('SELECT * FROM visits WHERE id = $1', {
      statement: { type: 'sql', sql: 'SELECT * FROM visits WHERE id = $1', protocol: 'extended', searchPath: ['clinical'] },
      session: { database: 'clinic', tls: false },
    });
    const parsed = analyzeQuery('SELECT * FROM visits WHERE id = $1', { searchPath: ['clinical'] });
    if (!parsed.ok) throw new Error('does not parse');
    const expected = buildPolicyInput({
      identity: { subject: 'agent-7', issuer: CASE_DEFAULTS.issuer, groups: ['agents'], roles: [], name: null },
      session: { id: CASE_DEFAULTS.sessionId, clientAddress: CASE_DEFAULTS.clientAddress, applicationName: CASE_DEFAULTS.applicationName, database: 'clinic', user: 'agent-7', tls: false },
      text: parsed.statements[0]!.text,
      protocol: 'extended',
      facts: parsed.statements[0]!.facts,
    });
    expect(evaluationFor(c)).toEqual({ type: 'input', input: expected });
    expect(expected.statement.tables_read).toEqual(['clinical.visits']);
  });

  it('denies SQL that does not parse, and reserved prepared-statement names, before any policy', () => {
    expect(evaluationFor(sqlCase('SELEC 1'))).toEqual({
      type: 'gateway',
      verdict: { action: 'deny', reason: expect.stringContaining('statement could not be parsed: syntax error'), policies: [], masks: [] },
    });
    expect(evaluationFor(sqlCase('EXECUTE gatehouse_1_2'))).toMatchObject({ type: 'gateway', verdict: { action: 'deny', reason: expect.stringContaining('reserved') } });
  });

  it('refuses a case with several statements', () => {
    expect(() => evaluationFor(sqlCase('SELECT 1; SELECT 2'))).toThrow(CaseError);
  });

  it('fills a hand-written statement with defaults and validates it against the policy input schema', () => {
    const ok = evaluationFor(sqlCase('', { statement: { type: 'input', statement: { kind: 'listen', command: 'ListenStmt', tables_read: ['a.b'] } } }));
    expect(ok.type === 'input' && ok.input.statement).toMatchObject({ kind: 'listen', command: 'ListenStmt', tables_read: ['a.b'], has_where: false, copy: null, text: '' });
    expect(() => evaluationFor(sqlCase('', { statement: { type: 'input', statement: { kind: 'select', tables_read: ['unqualified'] } } }))).toThrow(/tables_read/);
    expect(() => evaluationFor(sqlCase('', { statement: { type: 'input', statement: { kind: 'sleep' as never } } }))).toThrow(CaseError);
  });
});
