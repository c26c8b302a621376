// Every reader of the audit log on a real log written durably and preallocated (audit.preallocate_bytes,
// opt-in): the live file (as kill -9 would leave it) ends in a zero tail longer than any
// window a reader looks at, and a rotated file has none.

import { copyFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { input, readPatients } from '../policy/example-inputs.ts';
import { generateCheckpointKeys, loadCheckpointKey, loadCheckpointSigner, type CheckpointKey, type CheckpointSigner } from './checkpoint.ts';
import { disclosuresIn } from './disclosures.ts';
import { explainDecision, ExplainError, findDecision } from './explain.ts';
import { openAuditSink, type FileAuditSink } from './file-sink.ts';
import { NO_FILTER, queryAuditRecords } from './query.ts';
import { auditFileSource } from './record-source-files.ts';
import { recentRecordedInputs } from './recorded-inputs.ts';
import { subjectHasher } from './subjects.ts';
import type { AuditRecord } from './types.ts';
import { verifyAuditFiles } from './verify.ts';

/** A step as large as an operator would choose for a busy log: longer than any window a reader looks at. */
const PREALLOCATE = 64 << 20;

const SUBJECT_KEY = Buffer.alloc(32, 7);
const hash = subjectHasher(SUBJECT_KEY);
const IDENTITY = { subject: 'agent-7', issuer: 'https://idp.example', groups: ['agents'], roles: [], name: null };

function statement(id: string, time: string, o: { engine?: 'rego' | null; reason?: string } = {}): AuditRecord {
  const text = 'SELECT id, ssn FROM clinical.patients WHERE id = $1';
  return {
    v: 1,
    type: 'statement',
    time,
    decision_id: id,
    session_id: 's1',
    identity: IDENTITY,
    client_address: '10.0.0.7',
    application_name: 'psql',
    statement: text,
    fingerprint: `f-${id}`,
    input: { ...input(['agents'], text, { ...readPatients, fingerprint: `f-${id}` }), identity: IDENTITY },
    decision: 'mask',
    reason: o.reason ?? 'agents see identifiers masked',
    policies: ['clinical-agents'],
    masks: [{ table: 'clinical.patients', column: 'ssn', strategy: 'redact' }],
    engine: o.engine === undefined ? 'rego' : o.engine,
    revision: o.engine === null ? null : 'a'.repeat(40),
  } as AuditRecord;
}

function outcome(id: string, time: string, patient: string): AuditRecord {
  return {
    v: 1,
    type: 'outcome',
    time,
    decision_id: id,
    session_id: 's1',
    identity: IDENTITY,
    revision: 'a'.repeat(40),
    outcome: { status: 'ok', command_tag: 'SELECT 1', rows: 1 },
    subjects: { 'clinical.patients': { status: 'listed', hashes: [hash(patient)], count: 1, truncated: false } },
  };
}

const durable = (sink: FileAuditSink): Promise<void> => new Promise((resolve, reject) => sink.whenDurable((e) => (e ? reject(e) : resolve())));

let dir: string;
let signer: CheckpointSigner;
let key: CheckpointKey;
let sink: FileAuditSink;
/** The log rotated aside (its zero tail cut), and a copy of the live file after it (zero tail and all). */
let rotated: string;
let crashed: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-preallocated-'));
  const k = await generateCheckpointKeys();
  writeFileSync(join(dir, 'checkpoint.key'), k.privatePem);
  signer = await loadCheckpointSigner(join(dir, 'checkpoint.key'));
  key = await loadCheckpointKey(k.publicPem);
  const file = join(dir, 'audit.ndjson');
  sink = openAuditSink(file, { signer, preallocateBytes: PREALLOCATE }); // durable (the default), preallocated
  sink.write(statement('d1', '2026-12-01T10:00:00.000Z'));
  await durable(sink);
  sink.writeSoon(outcome('d1', '2026-12-01T10:00:00.100Z', 'patient-42'));
  sink.write(statement('d2', '2026-12-01T10:00:01.000Z'));
  await durable(sink);
  rotated = (await sink.rotate())!;
  sink.write(statement('d3', '2026-12-01T10:00:02.000Z', { engine: null, reason: 'COPY TO PROGRAM is refused' }));
  sink.writeSoon(outcome('d3', '2026-12-01T10:00:02.100Z', 'patient-42'));
  sink.write(statement('d4', '2026-12-01T10:00:03.000Z'));
  await sink.checkpoint('interval');
  await durable(sink);
  crashed = join(dir, 'crashed.ndjson');
  copyFileSync(file, crashed);
});

afterAll(async () => {
  await sink.close();
  await rm(dir, { recursive: true, force: true });
});

describe('a preallocated audit log (audit.preallocate_bytes 64 MiB)', () => {
  it('the live file ends in a zero tail longer than the records; rotation cuts it', () => {
    expect(PREALLOCATE).toBeGreaterThan(8 << 20); // longer than recorded-inputs' window
    const live = readFileSync(crashed);
    expect(live.length).toBeGreaterThanOrEqual(PREALLOCATE);
    const end = live.indexOf(0);
    expect(end).toBeGreaterThan(0);
    expect(live.subarray(end).every((b) => b === 0)).toBe(true);
    const aside = readFileSync(rotated);
    expect(aside.indexOf(0)).toBe(-1);
    expect(aside.at(-1)).toBe(0x0a);
    expect(statSync(rotated).size).toBe(aside.length);
  });

  it('audit verify: the rotated file and the live one verify together, the zero tail no record', async () => {
    const r = await verifyAuditFiles([rotated, crashed], key);
    expect(r.findings).toEqual([]);
    expect(r.status).toBe('ok');
    expect(r.lastSeq).toBeGreaterThanOrEqual(6);
  });

  it('audit query: every statement, with its outcome, across the rotation', async () => {
    const rows = [];
    for await (const row of queryAuditRecords(auditFileSource([crashed, rotated]), NO_FILTER)) rows.push(row);
    expect(rows.map((r) => r.decision_id)).toEqual(['d1', 'd2', 'd3', 'd4']);
    expect(rows[0]!.outcome).toMatchObject({ status: 'ok' });
    expect(rows[2]!.outcome).toMatchObject({ status: 'ok' });
  });

  it('audit disclosures: the seeded patient in both files', async () => {
    const found = [];
    for await (const d of disclosuresIn(auditFileSource([rotated, crashed]), 'patient-42', hash, { since: null, until: null, includePossible: false })) found.push(d.decision_id);
    expect(found).toEqual(['d1', 'd3']);
  });

  it('audit explain: finds a decision in the live file and says why it cannot be re-run', async () => {
    expect(await findDecision(auditFileSource([rotated, crashed]), 'd4')).toMatchObject({ at: `${crashed}:3`, record: { decision: 'mask' } });
    const why = await explainDecision({ decisionId: 'd3', source: auditFileSource([rotated, crashed]), repo: dir, policyPaths: { rego: 'policies/rego', cedar: 'policies/cedar' }, cacheDir: join(dir, 'cache') }).then(
      () => 'explained',
      (e: unknown) => (e instanceof ExplainError ? e.message : `other: ${String(e)}`),
    );
    expect(why).toContain('made by Gatehouse itself');
  });

  it('recorded inputs for gated activation: read from the end of the records, not of the zero tail', async () => {
    const got = await recentRecordedInputs(crashed, 10);
    expect(got.map((r) => r.name.match(/decision (\w+)/)![1])).toEqual(['d4', 'd3']);
  });
});
