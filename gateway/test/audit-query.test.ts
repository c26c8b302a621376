// `gatehouse audit query` over the audit log of a real gateway: two identities run masked, allowed
// and denied statements through node-postgres; the CLI (a real process) finds each by identity,
// table, column, decision, commit and time, in every output format, and never prints a literal.

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../src/audit/types.ts';
import { startTestGateway, type TestGateway } from './support/harness.ts';
import { runGatehouse } from './support/run-tool.ts';

const SSN = '123-45-6789';
const AGENT_MASKED = `SELECT id, ssn FROM clinical.patients WHERE ssn <> '${SSN}' ORDER BY id LIMIT 2`;
const AGENT_DENIED = 'DROP TABLE clinical.visits';
const ONCALL_VISITS = 'SELECT id FROM clinical.visits ORDER BY id LIMIT 3';

type StatementRecord = Extract<AuditRecord, { type: 'statement' }>;

describe('gatehouse audit query', () => {
  let t: TestGateway;
  let agent: pg.Client;
  let oncall: pg.Client;
  let revision: string;

  beforeAll(async () => {
    t = await startTestGateway();
    agent = await t.client(await t.token('query-agent', ['agents']));
    oncall = await t.client(await t.token('query-oncall', ['breakglass']));
    await agent.query(AGENT_MASKED);
    await expect(agent.query(AGENT_DENIED)).rejects.toMatchObject({ code: '42501' });
    await oncall.query(ONCALL_VISITS);
    await agent.end();
    await oncall.end();
    // The outcome of the last statement is written soon after it: wait for it.
    await t.auditUntil((records) => records.filter((r) => r.type === 'outcome').length >= 3);
    revision = (t.audit().find((r) => r.type === 'statement') as StatementRecord).revision!;
  }, 120_000);

  afterAll(async () => {
    await t?.close();
  });

  const query = (...args: string[]) => runGatehouse(['audit', 'query', ...args, t.auditFile]);
  const ndjson = async (...args: string[]): Promise<Array<Record<string, unknown>>> => {
    const r = await query(...args, '--format', 'ndjson');
    expect(r.stderr).toBe('');
    return r.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
  };

  it('finds an identity\'s statements with their decisions and outcomes, literals as $n', async () => {
    const rows = await ndjson('--identity', 'query-agent');
    expect(rows.map((r) => [r['decision'], (r['outcome'] as { status: string }).status])).toEqual([
      ['mask', 'ok'],
      ['deny', 'refused'],
    ]);
    expect(rows[0]).toMatchObject({ identity: { subject: 'query-agent', groups: ['agents'] }, masked: expect.arrayContaining(['clinical.patients.ssn']), outcome: { rows: 2 } });
    expect(rows[0]!['statement']).toContain('ssn <> $1');
  });

  it('filters by table, column, decision, commit and time, all together', async () => {
    const ids = async (...args: string[]) => (await ndjson(...args)).map((r) => (r['identity'] as { subject: string }).subject + ':' + String(r['decision']));
    expect(await ids('--table', 'visits')).toEqual(['query-agent:deny', 'query-oncall:allow']);
    expect(await ids('--table', 'clinical.visits', '--identity', 'query-oncall')).toEqual(['query-oncall:allow']);
    expect(await ids('--column', 'patients.ssn')).toEqual(['query-agent:mask']);
    expect(await ids('--decision', 'deny,allow')).toEqual(['query-agent:deny', 'query-oncall:allow']);
    expect(await ids('--commit', revision.startsWith('dir:') ? revision : revision.slice(0, 8), '--since', '1h', '--group', 'breakglass')).toEqual(['query-oncall:allow']);
    const none = await query('--until', '2000-01-01');
    expect([none.code, none.stdout]).toEqual([1, 'No statement matched.\n']);
  });

  it('prints a table, CSV and OCSF 6005 events, none holding the literal', async () => {
    const table = await query('--identity', 'query-agent');
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^time\s+identity\s+decision\s+outcome\s+tables\s+masked\s+revision\s+statement\n/);
    expect(table.stdout).toMatch(/query-agent\s+deny\s+refused 42501\s+clinical\.visits/);
    expect(table.stdout).toContain('2 statements\n');

    const csv = await query('--format', 'csv');
    const lines = csv.stdout.trimEnd().split('\r\n');
    expect(lines[0]).toMatch(/^time,decision_id,session_id,subject,/);
    expect(lines).toHaveLength(4);

    const ocsf = await query('--format', 'ocsf', '--decision', 'deny');
    const [event] = ocsf.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(event).toMatchObject({ class_uid: 6005, category_uid: 6, status_id: 2, status_code: '42501', action_id: 2, actor: { user: { uid: 'query-agent' } }, src_endpoint: { ip: '127.0.0.1' } });

    for (const out of [table.stdout, csv.stdout, ocsf.stdout, JSON.stringify(await ndjson())]) expect(out).not.toContain(SSN);
  });

  it('refuses bad arguments with exit 2 and says what is expected', async () => {
    const bad = await query('--decision', 'permit');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('expected one of allow, mask, approve, deny');
    const badTime = await query('--since', 'yesterday');
    expect(badTime.code).toBe(2);
    expect(badTime.stderr).toContain('nor a duration (30m, 24h, 7d)');
    const missing = await runGatehouse(['audit', 'query', '/nonexistent/audit.ndjson']);
    expect([missing.code, missing.stderr]).toEqual([2, expect.stringContaining('cannot read the audit file /nonexistent/audit.ndjson')]);
  });
});
