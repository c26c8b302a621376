import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSqlParser } from '../../sql/parser.ts';
import { parseCaseFile } from '../testing/cases.ts';
import type { PolicyInput } from '../types.ts';
import { canonicalJson, InputCollector, inputKey, upgradeRecordedInput } from './inputs.ts';

const CASES = `version: 1
cases:
  - name: agent reads visits
    identity: { subject: agent-7, groups: [agents] }
    sql: SELECT reason FROM clinical.visits
    expect: { decision: allow }
  - name: rego only
    identity: { subject: agent-7, groups: [agents] }
    sql: SELECT 1
    engines: [rego]
    expect: { decision: deny }
  - name: does not parse
    identity: { subject: agent-7 }
    sql: SELEKT nothing
    expect: { decision: deny }
`;

/** The first case's input as recorded today, and `v1`: that input as a version-1 recording with statement
 * `text` and the facts in `more`, without the statement fields in `dropped` (those added since). */
function versionOneRecorder(dropped: readonly string[]): { today: PolicyInput; v1: (text: string, more?: Record<string, unknown>) => PolicyInput } {
  const c = new InputCollector();
  c.addCases([parseCaseFile(CASES, 'policy-tests/a.yaml')], 'base');
  const today = c.inputs()[0]!.input;
  const v1 = (text: string, more: Record<string, unknown> = {}): PolicyInput => {
    const statement: Record<string, unknown> = { ...today.statement, text, ...more };
    for (const field of dropped) delete statement[field];
    return { ...today, version: 1, statement } as unknown as PolicyInput;
  };
  return { today, v1 };
}

let dir: string;
beforeAll(async () => {
  await loadSqlParser();
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-diff-inputs-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('collecting inputs', () => {
  it('canonical JSON sorts keys at every depth and keeps array order', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, 1], c: null } })).toBe('{"a":{"c":null,"d":[2,1]},"b":1}');
  });

  it('a case in both commits is one input; a case the gateway decides without policy is left out', () => {
    const c = new InputCollector();
    c.addCases([parseCaseFile(CASES, 'policy-tests/a.yaml')], 'base');
    c.addCases([parseCaseFile(CASES, 'policy-tests/a.yaml')], 'head');
    const inputs = c.inputs();
    expect(c.cases).toBe(6);
    expect(inputs.map((i) => i.origins.map((o) => (o.type === 'case' ? `${o.name}@${o.side}` : o.type)))).toEqual([['agent reads visits@both'], ['rego only@both']]);
    expect(inputs.map((i) => i.engines)).toEqual([['rego', 'cedar'], ['rego']]);
  });

  it('audit logs: statement records with an input, identical inputs counted once whatever the session id', async () => {
    const c = new InputCollector();
    c.addCases([parseCaseFile(CASES, 'policy-tests/a.yaml')], 'base');
    const caseInput = c.inputs()[0]!.input;
    const inSession = (id: string): PolicyInput => ({ ...caseInput, session: { ...caseInput.session, id } });
    const file = join(dir, 'audit.ndjson');
    const lines = [
      { type: 'statement', input: inSession('s1') },
      { type: 'outcome', decision_id: 'x' },
      { type: 'statement', input: inSession('s2') },
      { type: 'statement', input: null },
      { type: 'statement', input: { ...caseInput, identity: { ...caseInput.identity, subject: 'other' } } },
    ].map((r) => JSON.stringify(r));
    await writeFile(file, `${lines.join('\n')}\nnot json\n`);
    await c.addAuditFile(file);
    expect(c.auditRecords).toBe(3);
    const inputs = c.inputs();
    expect(inputs).toHaveLength(3);
    expect(inputs[0]!.origins).toEqual([expect.objectContaining({ type: 'case' }), { type: 'audit', file, records: 2 }]);
    expect(inputs[0]!.key).toBe(inputKey(inSession('s2')));
    expect(c.warnings).toHaveLength(2);
  });

  it('an input recorded before runs_sql_text existed (version 1) is judged as if recorded today', async () => {
    const c = new InputCollector();
    c.addCases([parseCaseFile(CASES, 'policy-tests/a.yaml')], 'base');
    const today = c.inputs()[0]!.input;
    const asRecordedBy = (functions: string[]): Record<string, unknown> => {
      const { runs_sql_text: _dropped, unbounded_writes: _added, settings: _new, ...statement } = { ...today.statement, functions };
      return { ...today, version: 1, statement };
    };
    const file = join(dir, 'audit-v1.ndjson');
    const lines = [asRecordedBy(['query_to_xml']), asRecordedBy(['lower'])].map((input) => JSON.stringify({ type: 'statement', input }));
    await writeFile(file, `${lines.join('\n')}\n`);
    const fromLog = new InputCollector();
    await fromLog.addAuditFile(file);
    const upgraded = fromLog.inputs().map((i) => i.input);
    expect(upgraded.map((i) => [i.version, i.statement.functions, i.statement.runs_sql_text])).toEqual([
      [today.version, ['query_to_xml'], true],
      [today.version, ['lower'], false],
    ]);
  });

  it('a version-1 input gets unbounded_writes from its text parsed again, or from its facts, erring towards true', async () => {
    const { today, v1 } = versionOneRecorder(['runs_sql_text', 'unbounded_writes', 'settings']);
    const unbounded = (i: PolicyInput): boolean => upgradeRecordedInput(i).statement.unbounded_writes;
    expect(unbounded(v1('EXPLAIN ANALYZE DELETE FROM t', { kind: 'explain', has_where: false }))).toBe(true);
    expect(unbounded(v1('WITH d AS (DELETE FROM t RETURNING 1) SELECT count(*) FROM d', { kind: 'select' }))).toBe(true);
    expect(unbounded(v1('DELETE FROM t WHERE id = 1', { kind: 'delete', has_where: true, writes: true, tables_written: ['public.t'] }))).toBe(false);
    expect(unbounded(v1('SELECT reason FROM clinical.visits'))).toBe(false);
    // Text that is not one statement: the recorded facts decide.
    expect(unbounded(v1('', { writes: true, tables_written: ['public.t'] }))).toBe(true);
    expect(unbounded(v1('SELEKT', { writes: false, tables_written: ['public.t'] }))).toBe(true);
    expect(unbounded(v1('', { writes: false, tables_written: [] }))).toBe(false);
    expect(upgradeRecordedInput(v1('TRUNCATE t')).version).toBe(today.version);
  });

  it('a version-1 input gets settings from its text parsed again, or from its facts, erring towards "*"', async () => {
    const { v1 } = versionOneRecorder(['runs_sql_text', 'unbounded_writes', 'settings']);
    const settings = (i: PolicyInput): string[] => upgradeRecordedInput(i).statement.settings;
    expect(settings(v1("SELECT pg_catalog.set_config('ROLE', 'postgres', false)", { kind: 'select' }))).toEqual(['role']);
    expect(settings(v1("UPDATE pg_settings SET setting = 'postgres' WHERE name = 'role'", { kind: 'update' }))).toEqual(['*']);
    expect(settings(v1('SET search_path = app', { kind: 'set', setting: 'search_path' }))).toEqual(['search_path']);
    expect(settings(v1('SELECT reason FROM clinical.visits'))).toEqual([]);
    // Text that is not one statement: the recorded facts decide.
    expect(settings(v1('', { kind: 'set', setting: 'role' }))).toEqual(['role']);
    expect(settings(v1('SELEKT', { kind: 'select', functions: ['set_config', 'pg_catalog.set_config'] }))).toEqual(['*']);
    expect(settings(v1('SELEKT', { kind: 'update', tables_written: ['pg_catalog.pg_settings'] }))).toEqual(['*']);
    expect(settings(v1('SELEKT', { kind: 'ddl' }))).toEqual(['*']);
    expect(settings(v1('', { kind: 'select', functions: ['lower'] }))).toEqual([]);
  });

  it('a version-1 input gets locks_rows and the two_phase kind from its text parsed again, or from its facts, erring towards a deny', async () => {
    const { v1 } = versionOneRecorder(['runs_sql_text', 'unbounded_writes', 'settings', 'locks_rows']);
    const locks = (i: PolicyInput): boolean => upgradeRecordedInput(i).statement.locks_rows;
    expect(locks(v1('WITH a AS (SELECT * FROM t FOR UPDATE) SELECT * FROM a', { tables_read: ['public.t'] }))).toBe(true);
    expect(locks(v1('SELECT * FROM t', { tables_read: ['public.t'] }))).toBe(false);
    // Text that is not one statement: any table read may have been locked.
    expect(locks(v1('SELEKT', { tables_read: ['public.t'] }))).toBe(true);
    expect(locks(v1('', { tables_read: [] }))).toBe(false);
    const kindOf = (i: PolicyInput): [string, boolean] => {
      const s = upgradeRecordedInput(i).statement;
      return [s.kind, s.writes];
    };
    const tx = { kind: 'transaction', command: 'TransactionStmt', writes: false, tables_read: [] };
    expect(kindOf(v1("COMMIT PREPARED 'g'", tx))).toEqual(['two_phase', true]);
    expect(kindOf(v1("PREPARE TRANSACTION 'g'", tx))).toEqual(['two_phase', true]);
    expect(kindOf(v1('COMMIT', tx))).toEqual(['transaction', false]);
    expect(kindOf(v1("SELEKT PREPARED 'g'", tx))).toEqual(['two_phase', true]);
  });
});
