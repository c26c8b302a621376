// Accounting of disclosures through a real gateway to the real PostgreSQL, with real JWTs and the
// example policies: the outcome records of statements on tables marked as holding PHI list keyed
// hashes of the subjects of the rows returned or written (hidden columns PostgreSQL computes, which
// clients never see), and `gatehouse audit disclosures --subject` lists exactly the accesses to one
// seeded patient across masked, allowed and approved statements, reads and writes, simple and
// extended protocol and psql. Clients see exactly what a gateway without PHI tables shows them.

import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { api, pendingRequest } from './support/approvals.ts';
import { psqlVia, runGatehouse } from './support/run-tool.ts';
import { startTestGateway, type TestGateway } from './support/harness.ts';
import { names, rowsOf, serialize, WireClient } from './support/wire-client.ts';
import { encodeBind } from '../src/wire/frontend.ts';
import type { AuditRecord } from '../src/audit/types.ts';
import type { Disclosure } from '../src/audit/disclosures.ts';

let t: TestGateway;
let ref: TestGateway;
let keyFile: string;
let key: Buffer;
let agent: string;
let agentRef: string;
let breakglass: string;
let lead: string;
/** The patient whose accounting is asked for, one with visits, and another. */
let P: number;
let Q: number;
/** Two patients neither P nor Q. */
let others: number[];

const hash = (v: number | string): string => createHmac('sha256', key).update(String(v)).digest('hex');

beforeAll(async () => {
  ref = await startTestGateway();
  key = randomBytes(32);
  keyFile = join(ref.workDir, 'subject.key');
  writeFileSync(keyFile, key);
  t = await startTestGateway({
    admin: true,
    audit: { phi_tables: { 'clinical.patients': { subject: 'id' }, 'clinical.visits': { subject: 'patient_id' } }, subject_key: keyFile, subjects_max: 5 },
  });
  const direct = new pg.Client({ connectionString: t.upstreamUrl });
  await direct.connect();
  const visited = await direct.query('SELECT patient_id FROM clinical.visits GROUP BY patient_id ORDER BY patient_id LIMIT 2');
  P = visited.rows[0].patient_id as number;
  Q = visited.rows[1].patient_id as number;
  others = (await direct.query('SELECT id FROM clinical.patients WHERE id <> ALL($1) ORDER BY id DESC LIMIT 2', [[P, Q]])).rows.map((r) => r.id as number).sort((x, y) => x - y);
  await direct.end();
  agent = await t.token('agent-7', ['agents']);
  agentRef = await ref.token('agent-7', ['agents']);
  breakglass = await t.token('dr-who', ['breakglass']);
  lead = await t.token('lead-1', ['clinical-leads']);
}, 120_000);

afterAll(async () => {
  await t?.close();
  await ref?.close();
});

type Shown = { command: string; rowCount: number | null; fields: Array<[string, number, string]>; rows: unknown[] };

function shown(r: pg.QueryResult): Shown {
  return { command: r.command, rowCount: r.rowCount, fields: r.fields.map((f) => [f.name, f.dataTypeID, f.format]), rows: r.rows };
}

/** The decision id of the statement record whose recorded text contains `marker`. */
function decisionOf(records: AuditRecord[], marker: string): string {
  const s = records.find((r) => r.type === 'statement' && r.statement.includes(marker));
  if (s?.type !== 'statement') throw new Error(`no statement record with ${marker}`);
  return s.decision_id;
}

/** The id of the first approval request in the log. */
function req0(records: AuditRecord[]): string {
  const r = records.find((x) => x.type === 'approval' && x.event === 'requested');
  return r?.type === 'approval' ? r.request_id : '';
}

function outcomeOf(records: AuditRecord[], id: string): Extract<AuditRecord, { type: 'outcome' }> {
  const o = records.find((r) => r.type === 'outcome' && r.decision_id === id);
  if (o?.type !== 'outcome') throw new Error(`no outcome for ${id}`);
  return o;
}

describe('accounting of disclosures', () => {
  it('clients see exactly what they saw without subject columns (simple, extended, binary, Describe)', async () => {
    const a = await t.client(agent);
    const b = await ref.client(agentRef);
    const cases: Array<pg.QueryConfig> = [
      { text: `SELECT id AS m1, first_name, ssn, diagnosis_code FROM clinical.patients WHERE id = ${P}` },
      { text: 'SELECT *, 1 AS m2 FROM clinical.patients p WHERE p.id = $1', values: [P] },
      { text: 'SELECT p.*, v.notes AS m3 FROM clinical.patients p JOIN clinical.visits v ON v.patient_id = p.id WHERE p.id = $1 ORDER BY 1, 2', values: [P], name: 'joined' },
      { text: 'SELECT id AS m4 FROM clinical.patients WHERE id IN ($1, $2) ORDER BY 1', values: others, binary: true } as pg.QueryConfig,
      { text: 'SELECT count(*) AS m5 FROM clinical.patients' },
      { text: `SELECT id AS gatehouse_subject_1, 'm6' FROM clinical.patients WHERE id = ${P}` },
      { text: `SELECT v.id AS m7, v.patient_id, v.reason FROM clinical.visits v WHERE v.patient_id = ${P} ORDER BY 1` },
    ];
    for (const c of cases) {
      expect(shown(await a.query(c)), c.text).toEqual(shown(await b.query(c)));
    }
    // The joined statement again: a prepared statement Executed twice.
    expect(shown(await a.query({ text: cases[2]!.text, values: [P], name: 'joined' }))).toEqual(shown(await b.query({ text: cases[2]!.text, values: [P], name: 'joined' })));
    const records = await t.auditUntil((rs) => rs.some((r) => r.type === 'outcome' && r.decision_id === decisionOf(rs, 'm7')));
    expect(outcomeOf(records, decisionOf(records, 'm1')).subjects).toEqual({ 'clinical.patients': { status: 'listed', hashes: [hash(P)], count: 1, truncated: false } });
    expect(outcomeOf(records, decisionOf(records, 'm4')).subjects).toEqual({ 'clinical.patients': { status: 'listed', hashes: others.map(hash), count: 2, truncated: false } });
    expect(outcomeOf(records, decisionOf(records, 'm5')).subjects?.['clinical.patients']).toMatchObject({ status: 'unknown' });
    expect(outcomeOf(records, decisionOf(records, 'gatehouse_subject_1')).subjects?.['clinical.patients']).toMatchObject({ status: 'unknown' });
    const joined = outcomeOf(records, decisionOf(records, 'm3')).subjects!;
    expect(joined['clinical.patients']).toMatchObject({ status: 'listed', hashes: [hash(P)] });
    expect(joined['clinical.visits']).toMatchObject({ status: 'listed', hashes: [hash(P)] });
  });

  it('caps the list and counts every row', async () => {
    const a = await t.client(breakglass);
    const r = await a.query('SELECT id AS m8 FROM clinical.patients ORDER BY id LIMIT 12'); // P (the first patient with visits) is among the first 5 in the seed
    expect(r.fields.map((f) => f.name)).toEqual(['m8']);
    const records = await t.auditUntil((rs) => rs.some((x) => x.type === 'outcome' && x.decision_id === decisionOf(rs, 'm8')));
    const s = outcomeOf(records, decisionOf(records, 'm8')).subjects!['clinical.patients'];
    expect(s).toMatchObject({ status: 'listed', count: 12, truncated: true });
    expect(s?.status === 'listed' && s.hashes.length).toBe(5);
  });

  it('a portal read in parts (Execute with a row limit), with a result format per column: each part lists its own rows', async () => {
    const w = await WireClient.connect(t.port, breakglass);
    w.send(
      serialize.parse({ name: '', text: 'SELECT id AS m10, diagnosis_code FROM clinical.patients WHERE id <= 5 ORDER BY id' }),
      encodeBind({ portal: 'c', statement: '', paramFormats: [], params: [], resultFormats: [0, 1] }),
      serialize.describe({ type: 'P', name: 'c' }),
      serialize.execute({ portal: 'c', rows: 2 }),
      serialize.execute({ portal: 'c', rows: 10 }),
      serialize.sync(),
    );
    const [group] = await w.untilReady(1);
    expect(names(group!)).toEqual(['parseComplete', 'bindComplete', 'rowDescription', 'dataRow', 'dataRow', 'portalSuspended', 'dataRow', 'dataRow', 'dataRow', 'commandComplete', 'readyForQuery']);
    const description = group!.find((m) => m.name === 'rowDescription') as unknown as { fields: Array<{ name: string; format: string }> };
    expect(description.fields.map((f) => [f.name, f.format])).toEqual([['m10', 'text'], ['diagnosis_code', 'binary']]);
    expect(rowsOf(group!).every((r) => r.length === 2)).toBe(true);
    expect(rowsOf(group!).map((r) => r[0])).toEqual(['1', '2', '3', '4', '5']);
    const records = await t.auditUntil((rs) => rs.filter((r) => r.type === 'statement' && r.statement.includes('m10')).every((s) => rs.some((o) => o.type === 'outcome' && s.type === 'statement' && o.decision_id === s.decision_id)) && rs.some((r) => r.type === 'statement' && r.statement.includes('m10')));
    const parts = records.filter((r) => r.type === 'statement' && r.statement.includes('m10')).map((r) => outcomeOf(records, r.type === 'statement' ? r.decision_id : ''));
    expect(parts.map((o) => o.subjects?.['clinical.patients'])).toEqual([
      { status: 'listed', hashes: [hash(1), hash(2)], count: 2, truncated: false },
      { status: 'listed', hashes: [hash(3), hash(4), hash(5)], count: 3, truncated: false },
    ]);
  });

  it('psql sees the same columns and rows', async () => {
    const sql = `SELECT id AS m9, diagnosis_code FROM clinical.patients WHERE id = ${P}`;
    const via = await psqlVia(t.port, breakglass, ['-A', '-c', sql]);
    const plain = await psqlVia(ref.port, await ref.token('dr-who', ['breakglass']), ['-A', '-c', sql]);
    expect(via.code).toBe(0);
    expect(via.stdout.toString()).toBe(plain.stdout.toString());
    expect(via.stdout.toString().split('\n')[0]).toBe('m9|diagnosis_code');
  });

  it('writes: the RETURNING Gatehouse adds is never shown; an extended one keeps its columns', async () => {
    const a = await t.client(agent);
    // Approved write to P (simple protocol): the client gets a plain UPDATE 1.
    const held = a.query(`UPDATE clinical.patients SET phone = '555-0199' WHERE id = ${P}`);
    const req = await pendingRequest(t.gw.adminPort!, lead, "'555-0199'");
    expect((await api(t.gw.adminPort!, `/approvals/api/requests/${req.id}/answer`, lead, { verdict: 'approve' })).status).toBe(200);
    const w = await held;
    expect({ command: w.command, rowCount: w.rowCount, fields: w.fields.length, rows: w.rows.length }).toEqual({ command: 'UPDATE', rowCount: 1, fields: 0, rows: 0 });
    // Approved write to Q (extended protocol, with its own RETURNING): only the client's column comes back.
    const held2 = a.query({ text: "UPDATE clinical.patients SET phone = '555-0198' WHERE id = $1 RETURNING diagnosis_code", values: [Q] });
    const req2 = await pendingRequest(t.gw.adminPort!, lead, "'555-0198'");
    await api(t.gw.adminPort!, `/approvals/api/requests/${req2.id}/answer`, lead, { verdict: 'approve' });
    const w2 = await held2;
    expect(w2.fields.map((f) => f.name)).toEqual(['diagnosis_code']);
    expect(Object.keys(w2.rows[0])).toEqual(['diagnosis_code']);
    const records = await t.auditUntil((rs) => rs.some((x) => x.type === 'outcome' && x.decision_id === req2.decision_id));
    expect(outcomeOf(records, req.decision_id).subjects).toEqual({ 'clinical.patients': { status: 'listed', hashes: [hash(P)], count: 1, truncated: false } });
    expect(outcomeOf(records, req2.decision_id).subjects).toEqual({ 'clinical.patients': { status: 'listed', hashes: [hash(Q)], count: 1, truncated: false } });
  });

  it('`audit disclosures --subject` lists exactly the accesses to that patient', async () => {
    const run = await runGatehouse(['audit', 'disclosures', '--subject', String(P), '--key', keyFile, '--format', 'ndjson', t.auditFile]);
    expect(run.code).toBe(0);
    const listed = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as Disclosure);
    const records = t.audit();
    const expected = ['m1', 'm3', 'm9', 'm7'].map((m) => decisionOf(records, m));
    const writes = records.filter((r) => r.type === 'approval' && r.event === 'requested').map((r) => (r.type === 'approval' ? r.decision_id : ''));
    // m2 ran with a bound $1 (P): it is the statement recorded with `m2`.
    const m2 = decisionOf(records, 'm2');
    const ids = listed.map((d) => d.decision_id);
    // m3 ran twice (two Executes): each is its own access.
    const m3runs = records.filter((r) => r.type === 'statement' && r.statement.includes('m3')).map((r) => (r.type === 'statement' ? r.decision_id : ''));
    // The portal read in parts: the part that returned P's row (P is among patients 1-5 in the seed).
    const m10parts = records.filter((r) => r.type === 'statement' && r.statement.includes('m10')).map((r) => (r.type === 'statement' ? r.decision_id : ''));
    const m10 = m10parts.filter((id) => JSON.stringify(outcomeOf(records, id).subjects).includes(hash(P)));
    expect(m10.length).toBe(1);
    expect(new Set(ids)).toEqual(new Set([...expected, m2, ...m3runs, ...m10, writes[0]!, records.filter((r) => r.type === 'statement' && r.statement.includes('m8')).map((r) => (r.type === 'statement' ? r.decision_id : ''))[0]!].filter((x) => x !== '')));
    expect(ids).not.toContain(writes[1]); // Q's write
    expect(ids).not.toContain(decisionOf(records, 'm4')); // two other patients
    expect(listed.every((d) => d.match === 'listed')).toBe(true);
    const write = listed.find((d) => d.decision_id === writes[0])!;
    // A held statement runs under a record of its own (decision allow, its reason naming the approval).
    expect(write).toMatchObject({ identity: { subject: 'agent-7' }, tables: ['clinical.patients'], decision: 'allow', outcome: { status: 'ok', rows: 1 } });
    expect(write.reason).toContain(`approved in request ${req0(records)}`);
    const masked = listed.find((d) => d.decision_id === decisionOf(records, 'm1'))!;
    expect(masked).toMatchObject({ decision: 'mask', tables: ['clinical.patients'] });
    expect(masked.masked).toContain('clinical.patients.ssn');
    expect(masked.revision).toBeTruthy();
    // The aggregate and the statement using the reserved name may have touched P: counted, and listed on request.
    expect(run.stderr).toMatch(/\d+ more statements? read or wrote a PHI table/);
    const possible = await runGatehouse(['audit', 'disclosures', '--subject', String(P), '--key', keyFile, '--include-possible', '--format', 'ndjson', t.auditFile]);
    const possibleIds = possible.stdout.trim().split('\n').map((l) => (JSON.parse(l) as Disclosure).decision_id);
    expect(possibleIds).toContain(decisionOf(records, 'm5'));
    // A patient nobody's rows were read of: nothing listed, exit 1.
    const none = await runGatehouse(['audit', 'disclosures', '--subject', '999999', '--key', keyFile, t.auditFile]);
    expect(none.code).toBe(1);
    // The table format for people.
    const table = await runGatehouse(['audit', 'disclosures', '--subject', String(P), '--key', keyFile, t.auditFile]);
    expect(table.stdout).toContain('agent-7');
    expect(table.stdout).toMatch(/\d+ accesses\n$/);
  });

  it('the audit files hold only hashes of subjects, and statements with their literals as $n', () => {
    const text = readFileSync(t.auditFile, 'utf8');
    for (const r of t.audit()) {
      if (r.type !== 'outcome' || r.subjects === undefined) continue;
      for (const s of Object.values(r.subjects)) if (s.status === 'listed') for (const h of s.hashes) expect(h).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(text).not.toContain('555-0199');
    expect(text).not.toContain(`WHERE id = ${P}`);
    expect(text).not.toContain(`id = ${P} RETURNING`);
    expect(text).toContain(hash(P));
  });
});
