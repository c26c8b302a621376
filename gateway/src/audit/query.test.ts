import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { csvField, csvHeader, csvRow, formatTable, ocsfEvent } from './query-format.ts';
import { NO_FILTER, queryAuditRecords, type AccessFilter, type AccessRow } from './query.ts';
import { auditFileSource, inLogOrder } from './record-source-files.ts';
import { POLICY_INPUT_VERSION } from '../policy/types.ts';
import type { StatementKind } from '../sql/facts.ts';
import type { AuditRecord } from './types.ts';

const REV_A = 'a'.repeat(40);
const REV_B = 'b1c2'.padEnd(40, '0');

let seq = 0;
function statement(id: string, o: { subject?: string; groups?: string[]; time?: string; decision?: 'allow' | 'mask' | 'approve' | 'deny'; tables?: string[]; written?: string[]; columns?: Record<string, string[]>; revision?: string; kind?: StatementKind }): AuditRecord {
  const tables = o.tables ?? ['clinical.patients'];
  return {
    v: 1,
    type: 'statement',
    time: o.time ?? '2026-12-01T10:00:00.000Z',
    decision_id: id,
    session_id: `s-${o.subject ?? 'agent-1'}`,
    identity: { subject: o.subject ?? 'agent-1', issuer: 'https://idp.example', groups: o.groups ?? ['agents'], roles: [], name: null },
    client_address: '10.0.0.7',
    application_name: 'psql',
    statement: 'SELECT id FROM clinical.patients WHERE ssn = $1',
    fingerprint: 'f1',
    input: {
      version: POLICY_INPUT_VERSION,
      identity: { subject: o.subject ?? 'agent-1', issuer: 'https://idp.example', groups: o.groups ?? ['agents'], roles: [], name: null },
      session: { id: 's', client_address: '10.0.0.7', application_name: 'psql', database: 'clinic', user: 'agent', tls: false },
      statement: {
        text: 'SELECT id FROM clinical.patients WHERE ssn = $1',
        fingerprint: 'f1',
        protocol: 'simple',
        kind: o.kind ?? 'select',
        command: 'SelectStmt',
        tables_read: tables,
        tables_written: o.written ?? [],
        columns: o.columns ?? { 'clinical.patients': ['id', 'ssn'] },
        functions: [],
        runs_sql_text: false,
        has_where: true,
        unbounded_writes: false,
        locks_rows: false,
        has_limit: false,
        writes: false,
        cte_writes: false,
        explain_analyze: false,
        inner_kind: null,
        prepared_name: null,
        copy: null,
        setting: null,
        settings: [],
      },
    },
    decision: o.decision ?? 'mask',
    reason: 'agents see identifiers masked',
    policies: ['clinical-agents'],
    masks: o.decision === 'mask' || o.decision === undefined ? [{ table: 'clinical.patients', column: 'ssn', strategy: 'redact' }] : [],
    engine: 'rego',
    revision: o.revision ?? REV_A,
  };
}

function outcome(id: string, o: AuditRecord extends infer R ? (R extends { type: 'outcome'; outcome: infer X } ? X : never) : never): AuditRecord {
  return { v: 1, type: 'outcome', time: '2026-12-01T10:00:00.100Z', decision_id: id, session_id: 's', identity: { subject: 'agent-1', issuer: 'i', groups: [], roles: [], name: null }, revision: REV_A, outcome: o };
}

function logFile(records: Array<AuditRecord | string>, dir = mkdtempSync(join(tmpdir(), 'gatehouse-query-')), name = 'audit.ndjson'): string {
  const file = join(dir, name);
  writeFileSync(file, records.map((r) => (typeof r === 'string' ? r : JSON.stringify({ ...r, seq: ++seq, prev: '0'.repeat(64) }))).join('\n') + '\n');
  return file;
}

async function collect(files: string[], filter: Partial<AccessFilter> = {}, maxPending?: number): Promise<AccessRow[]> {
  const rows: AccessRow[] = [];
  for await (const r of queryAuditRecords(auditFileSource(files), { ...NO_FILTER, ...filter }, maxPending === undefined ? {} : { maxPending })) rows.push(r);
  return rows;
}

describe('queryAuditRecords', () => {
  const file = logFile([
    statement('d1', { subject: 'agent-1', time: '2026-12-01T10:00:00.000Z' }),
    statement('d2', { subject: 'nurse-1', groups: ['nurses'], decision: 'allow', tables: ['clinical.visits'], columns: { 'clinical.visits': ['reason'] }, time: '2026-12-02T10:00:00.000Z' }),
    outcome('d2', { status: 'ok', command_tag: 'SELECT 2', rows: 2 }),
    '{"type":"statement", torn line',
    outcome('d1', { status: 'ok', command_tag: 'SELECT 1', rows: 1 }),
    statement('d3', { subject: 'agent-1', decision: 'deny', tables: [], written: ['clinical.visits'], columns: {}, kind: 'ddl', revision: REV_B, time: '2026-12-03T10:00:00.000Z' }),
    outcome('d3', { status: 'refused', sqlstate: '42501' }),
    statement('d4', { subject: 'agent-1', decision: 'approve', written: ['clinical.patients'], kind: 'update', time: '2026-12-03T11:00:00.000Z' }),
    { v: 1, type: 'approval', time: '2026-12-03T11:00:01.000Z', event: 'approved', request_id: 'r', decision_id: 'd4', session_id: 's', fingerprint: 'f', revision: REV_A, actor: null, state: 'approved' },
    outcome('d4', { status: 'ok', command_tag: 'UPDATE 1', rows: 1 }),
    statement('d5', { subject: 'agent-2', time: '2026-12-04T10:00:00.000Z' }),
  ]);

  it('joins every statement with its outcome and approval, in log order, skipping torn lines', async () => {
    const rows = await collect([file]);
    expect(rows.map((r) => [r.decision_id, r.outcome?.status ?? null, r.approval])).toEqual([
      ['d1', 'ok', null],
      ['d2', 'ok', null],
      ['d3', 'refused', null],
      ['d4', 'ok', 'approved'],
      ['d5', null, null],
    ]);
    expect(rows[0]!.columns).toEqual(['clinical.patients.id', 'clinical.patients.ssn']);
    expect(rows[0]!.masked).toEqual(['clinical.patients.ssn']);
    expect(rows[0]!.at).toBe(`${file}:1`);
  });

  it('filters by identity, group, table, column, decision, revision, session and time; all must match', async () => {
    const ids = async (f: Partial<AccessFilter>): Promise<string[]> => (await collect([file], f)).map((r) => r.decision_id);
    expect(await ids({ identities: ['agent-1'] })).toEqual(['d1', 'd3', 'd4']);
    expect(await ids({ groups: ['nurses'] })).toEqual(['d2']);
    expect(await ids({ tables: ['visits'] })).toEqual(['d2', 'd3']);
    expect(await ids({ tables: ['clinical.visits'], identities: ['agent-1'] })).toEqual(['d3']);
    expect(await ids({ tables: ['other.visits'] })).toEqual([]);
    expect(await ids({ columns: ['ssn'] })).toEqual(['d1', 'd4', 'd5']);
    expect(await ids({ columns: ['patients.ssn'], identities: ['agent-2'] })).toEqual(['d5']);
    expect(await ids({ columns: ['visits.ssn'] })).toEqual([]);
    expect(await ids({ decisions: ['deny', 'approve'] })).toEqual(['d3', 'd4']);
    expect(await ids({ revisions: ['b1c2'] })).toEqual(['d3']);
    expect(await ids({ revisions: [REV_A] })).toEqual(['d1', 'd2', 'd4', 'd5']);
    expect(await ids({ sessions: ['s-nurse-1'] })).toEqual(['d2']);
    expect(await ids({ since: new Date('2026-12-03T00:00:00Z'), until: new Date('2026-12-04T00:00:00Z') })).toEqual(['d3', 'd4']);
  });

  it('gives out a row without its outcome once more later rows wait than allowed', async () => {
    const f = logFile([statement('p1', {}), statement('p2', {}), statement('p3', {}), outcome('p1', { status: 'aborted' })]);
    const rows = await collect([f], {}, 1);
    expect(rows.map((r) => [r.decision_id, r.outcome?.status ?? null])).toEqual([['p1', null], ['p2', null], ['p3', null]]);
    expect((await collect([f])).map((r) => r.outcome?.status ?? null)).toEqual(['aborted', null, null]);
  });

  it('orders rotated files by their first record and joins an outcome written in the next file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-query-rot-'));
    const older = logFile([statement('r1', {})], dir, 'audit.ndjson.1');
    const newer = logFile([outcome('r1', { status: 'error', sqlstate: '22P02', message: 'x' }), statement('r2', {})], dir, 'audit.ndjson');
    expect(inLogOrder([newer, older])).toEqual([older, newer]);
    expect((await collect(inLogOrder([newer, older]))).map((r) => [r.decision_id, r.outcome?.status])).toEqual([['r1', 'error'], ['r2', undefined]]);
  });
});

describe('output formats', () => {
  it('CSV quotes what needs it and defuses spreadsheet formulas', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"\n')).toBe('"say ""hi""\n"');
    expect(csvField('=HYPERLINK("http://x")')).toBe(`"'=HYPERLINK(""http://x"")"`);
    expect(csvField('-1')).toBe(`"'-1"`);
  });

  it('a CSV row has as many fields as the header', async () => {
    const file = logFile([statement('c1', {}), outcome('c1', { status: 'ok', command_tag: 'SELECT 1', rows: 1 })]);
    const [row] = await collect([file]);
    const header = csvHeader().trimEnd().split(',');
    expect(csvRow(row!).trimEnd().split(',')).toHaveLength(header.length);
    expect(formatTable([row!])).toMatch(/^time\s+identity\s+decision\s+outcome[^\n]*\n2026-12-01T10:00:00.000Z\s+agent-1\s+mask\s+ok 1 rows\s+clinical.patients\s+clinical.patients.ssn\s+aaaaaaaaaaaa\s+SELECT id FROM/);
  });

  it('OCSF: a Datastore Activity event whose type, disposition and status follow the decision and outcome', async () => {
    const file = logFile([
      statement('o1', { decision: 'deny', kind: 'delete', written: ['clinical.visits'] }),
      outcome('o1', { status: 'refused', sqlstate: '42501' }),
      statement('o2', {}),
      outcome('o2', { status: 'ok', command_tag: 'SELECT 3', rows: 3 }),
    ]);
    const [denied, masked] = (await collect([file])).map((r) => ocsfEvent(r, '9.9.9'));
    expect(denied).toMatchObject({
      class_uid: 6005,
      category_uid: 6,
      activity_id: 7,
      type_uid: 600507,
      status_id: 2,
      status_code: '42501',
      action_id: 2,
      disposition_id: 2,
      actor: { user: { uid: 'agent-1', groups: [{ name: 'agents' }] }, session: { uid: 's-agent-1' } },
      src_endpoint: { ip: '10.0.0.7' },
      database: { name: 'clinic', type: 'PostgreSQL' },
      metadata: { version: '1.1.0', uid: 'o1', product: { name: 'Gatehouse', version: '9.9.9' } },
    });
    expect(masked).toMatchObject({ activity_id: 4, type_uid: 600504, status_id: 1, action_id: 1, disposition_id: 1, table: { name: 'clinical.patients' }, unmapped: { masked: ['clinical.patients.ssn'] } });
  });
});
