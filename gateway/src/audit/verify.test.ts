import { copyFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainLine, lineHash } from './chain.ts';
import { generateCheckpointKeys, loadCheckpointKey, loadCheckpointSigner, type CheckpointKey, type CheckpointSigner } from './checkpoint.ts';
import { openAuditSink } from './file-sink.ts';
import type { AuditRecord } from './types.ts';
import { formatReport, verifyAuditFiles, type FindingKind, type VerifyReport } from './verify.ts';

let dir: string;
let signer: CheckpointSigner;
let trusted: CheckpointKey;
let otherSigner: CheckpointSigner;
let otherKey: CheckpointKey;

async function keys(name: string): Promise<{ signer: CheckpointSigner; key: CheckpointKey }> {
  const k = await generateCheckpointKeys();
  writeFileSync(join(dir, `${name}.key`), k.privatePem);
  return { signer: await loadCheckpointSigner(join(dir, `${name}.key`)), key: await loadCheckpointKey(k.publicPem) };
}

const outcome = (n: number): AuditRecord => ({
  v: 1,
  type: 'outcome',
  time: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
  decision_id: `d${n}`,
  session_id: 's1',
  identity: { subject: 'alice', issuer: 'https://idp.example', groups: [], roles: [], name: null },
  revision: 'dir:abc',
  outcome: { status: 'ok', command_tag: 'SELECT 1', rows: 1 },
});

/**
 * A real log written by the sink: 1 opened record, outcomes 1..5, a checkpoint, outcomes 6..10,
 * a checkpoint, outcomes 11..12, a shutdown checkpoint. Returns its lines.
 */
async function writeLog(name: string, by: CheckpointSigner = signer): Promise<{ file: string; lines: string[] }> {
  const file = join(dir, name);
  const sink = openAuditSink(file, { fsync: false, signer: by });
  for (let n = 1; n <= 5; n++) sink.write(outcome(n));
  await sink.checkpoint('interval');
  for (let n = 6; n <= 10; n++) sink.write(outcome(n));
  await sink.checkpoint('interval');
  for (let n = 11; n <= 12; n++) sink.write(outcome(n));
  await sink.close();
  return { file, lines: readFileSync(file, 'utf8').trimEnd().split('\n') };
}

function rewrite(file: string, lines: string[]): void {
  writeFileSync(file, `${lines.join('\n')}\n`);
}

const kinds = (r: VerifyReport): FindingKind[] => r.findings.map((f) => f.kind);
const seqOf = (line: string): number => (JSON.parse(line) as { seq: number }).seq;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-verify-'));
  ({ signer, key: trusted } = await keys('trusted'));
  ({ signer: otherSigner, key: otherKey } = await keys('other'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('verifyAuditFiles', () => {
  it('passes an untouched log: every record chained and signed', async () => {
    const { file, lines } = await writeLog('intact.ndjson');
    expect(lines).toHaveLength(16);
    const r = await verifyAuditFiles([file], trusted);
    expect(r.findings).toEqual([]);
    expect(r).toMatchObject({ status: 'ok', records: 16, checkpoints: 3, lastSeq: 16, protectedThrough: 15 });
  });

  it('locates an edited record', async () => {
    const { file, lines } = await writeLog('edited.ndjson');
    lines[3] = lines[3]!.replace('"rows":1', '"rows":7');
    rewrite(file, lines);
    const r = await verifyAuditFiles([file], trusted);
    expect(r.status).toBe('tampered');
    expect(r.findings[0]).toMatchObject({ kind: 'edited', at: `${file}:4` });
  });

  it('locates a deleted record', async () => {
    const { file, lines } = await writeLog('deleted.ndjson');
    lines.splice(8, 1); // seq 9
    rewrite(file, lines);
    const r = await verifyAuditFiles([file], trusted);
    expect(r.status).toBe('tampered');
    expect(r.findings[0]).toMatchObject({ kind: 'deleted', at: `${file}:9` });
    expect(r.findings[0]!.message).toContain('seq 9');
  });

  it('locates an inserted record, even one given the next number and a correct link', async () => {
    const { file, lines } = await writeLog('inserted.ndjson');
    const forged = chainLine(outcome(99), { seq: seqOf(lines[3]!), head: lineHash(lines[3]!) }).line;
    lines.splice(4, 0, forged);
    rewrite(file, lines);
    const r = await verifyAuditFiles([file], trusted);
    expect(r.status).toBe('tampered');
    expect(r.findings[0]).toMatchObject({ kind: 'inserted', at: `${file}:5` });
  });

  it('locates reordered records', async () => {
    const { file, lines } = await writeLog('reordered.ndjson');
    [lines[9], lines[10]] = [lines[10]!, lines[9]!];
    rewrite(file, lines);
    const r = await verifyAuditFiles([file], trusted);
    expect(r.status).toBe('tampered');
    expect(r.findings[0]).toMatchObject({ kind: 'reordered', at: `${file}:10` });
  });

  it('catches records rewritten with a recomputed chain: the signed head no longer matches', async () => {
    const { file, lines } = await writeLog('rechained.ndjson');
    // Edit seq 3 and recompute every link after it, as an attacker without the key would.
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    records[2]!['outcome'] = { status: 'ok', command_tag: 'SELECT 1', rows: 42 };
    let head = { seq: 2, head: lineHash(lines[1]!) };
    const out = lines.slice(0, 2);
    for (const rec of records.slice(2)) {
      const { v: _v, seq: _s, prev: _p, ...rest } = rec;
      const { line, next } = chainLine({ v: 1, ...rest } as AuditRecord, head);
      out.push(line);
      head = next;
    }
    rewrite(file, out);
    const r = await verifyAuditFiles([file], trusted);
    expect(r.status).toBe('tampered');
    expect(kinds(r)).toContain('rewritten');
    expect(r.findings.find((f) => f.kind === 'rewritten')!.message).toMatch(/seq 1\.\.6/);
  });

  it('reads a durable log still being written (or left by kill -9): its preallocated zero tail is no record', async () => {
    const file = join(dir, 'live.ndjson');
    const sink = openAuditSink(file, { fsync: true, preallocateBytes: 1 << 20, signer });
    for (let n = 1; n <= 3; n++) sink.write(outcome(n));
    await sink.checkpoint('interval');
    await new Promise<void>((resolve, reject) => sink.whenDurable((e) => (e ? reject(e) : resolve())));
    const crashed = join(dir, 'live-copy.ndjson');
    copyFileSync(file, crashed);
    await sink.close();
    expect(statSync(crashed).size).toBeGreaterThan(statSync(file).size);
    const r = await verifyAuditFiles([crashed], trusted);
    expect(r.findings).toEqual([]);
    expect(r).toMatchObject({ status: 'ok', records: 5, lastSeq: 5, protectedThrough: 4 });
  });

  it('reports records after the last checkpoint as unprotected (a cut tail looks the same)', async () => {
    const { file, lines } = await writeLog('cut.ndjson');
    rewrite(file, lines.slice(0, 15)); // the shutdown checkpoint cut off: seq 14 and 15 unsigned
    const r = await verifyAuditFiles([file], trusted);
    expect(r.status).toBe('incomplete');
    expect(kinds(r)).toEqual(['unprotected']);
    expect(r.findings[0]!.message).toContain('seq 14..15');
    expect(r.protectedThrough).toBe(12);
  });

  it('reports a checkpoint removed together with its record as a gap', async () => {
    const { file, lines } = await writeLog('gap.ndjson');
    // Remove the middle checkpoint (line 13) and relink the line after it, so only the checkpoints tell.
    const removed = lines.splice(12, 1)[0]!;
    const records = lines.slice(12).map((l) => JSON.parse(l) as Record<string, unknown>);
    let head = { seq: seqOf(lines[11]!), head: lineHash(lines[11]!) };
    const out = lines.slice(0, 12);
    for (const rec of records) {
      const { v: _v, seq: _s, prev: _p, ...rest } = rec;
      const { line, next } = chainLine({ v: 1, ...rest } as AuditRecord, head);
      out.push(line);
      head = next;
    }
    expect(JSON.parse(removed)).toMatchObject({ type: 'checkpoint' });
    rewrite(file, out);
    const r = await verifyAuditFiles([file], trusted);
    expect(r.status).toBe('tampered');
    expect(kinds(r)).toContain('gap');
  });

  it('refuses checkpoints signed by another key', async () => {
    const { file } = await writeLog('other-key.ndjson', otherSigner);
    const r = await verifyAuditFiles([file], trusted);
    expect(r.status).toBe('tampered');
    expect(kinds(r).filter((k) => k === 'wrong-key')).toHaveLength(3);
    expect((await verifyAuditFiles([file], otherKey)).status).toBe('ok');
  });

  it('verifies across rotated files given in any order, and says when the first file is missing', async () => {
    const base = join(dir, 'rot.ndjson');
    const sink = openAuditSink(base, { fsync: false, signer });
    sink.write(outcome(1));
    const { renameSync } = await import('node:fs');
    renameSync(base, `${base}.1`);
    await sink.reopen();
    sink.write(outcome(2));
    renameSync(base, `${base}.2`);
    await sink.reopen();
    sink.write(outcome(3));
    await sink.close();
    const all = [base, `${base}.1`, `${base}.2`];
    expect(await verifyAuditFiles(all, trusted)).toMatchObject({ status: 'ok', findings: [] });
    const later = await verifyAuditFiles([base, `${base}.2`], trusted);
    expect(later.status).toBe('incomplete');
    expect(kinds(later)).toContain('begins-late');
    // Without the middle file the chain breaks where it was.
    const middleMissing = await verifyAuditFiles([base, `${base}.1`], trusted);
    expect(middleMissing.status).toBe('tampered');
    expect(kinds(middleMissing)).toContain('deleted');
  });

  it('a log without any checkpoint is incomplete, never intact: with a key, without one, and in the summary', async () => {
    const file = join(dir, 'no-checkpoint.ndjson');
    const sink = openAuditSink(file, { fsync: false });
    for (let n = 1; n <= 3; n++) sink.write(outcome(n));
    await sink.close();
    const withKey = await verifyAuditFiles([file], trusted);
    expect(withKey).toMatchObject({ status: 'incomplete', checkpoints: 0, protectedThrough: 0, lastSeq: 4 });
    expect(kinds(withKey)).toEqual(['unprotected']);
    expect(formatReport(withKey)).toMatch(/^INCOMPLETE: .*signed through seq 0; 4 records after it are chained but not signed$/m);
    const withoutKey = await verifyAuditFiles([file], null);
    expect(withoutKey.status).toBe('incomplete');
    expect(kinds(withoutKey)).toEqual(['unsigned']);
  });

  it('without a key checks the chain only, and says the signatures were not checked', async () => {
    const { file } = await writeLog('nokey.ndjson');
    const r = await verifyAuditFiles([file], null);
    expect(r.status).toBe('incomplete');
    expect(kinds(r)).toEqual(['unsigned']);
  });
});
