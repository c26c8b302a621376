// Power loss with the write-ahead ring (audit.ring_bytes): the disk keeps the ring's flushed frames but
// only the part of the log flushed before (the log itself is flushed only now and then). A gateway
// opening what the disk kept appends the missing records from the ring before anything else: the
// log verifies, every confirmed record is back, and the same ring replayed twice adds nothing.
import { copyFileSync, mkdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCheckpointKeys, loadCheckpointKey, loadCheckpointSigner, type CheckpointKey, type CheckpointSigner } from './checkpoint.ts';
import { openAuditSink, type FileAuditSink } from './file-sink.ts';
import type { AuditRecord } from './types.ts';
import { verifyAuditFiles } from './verify.ts';

const durable = (sink: FileAuditSink): Promise<void> => new Promise((resolve, reject) => sink.whenDurable((e) => (e ? reject(e) : resolve())));
const statement = (i: number): AuditRecord => ({ v: 1, type: 'sink', time: new Date(0).toISOString(), event: 'opened', outage: null, note: `statement ${i}` }) as unknown as AuditRecord;
const lines = (file: string): string[] => readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');

let dir: string;
let signer: CheckpointSigner;
let key: CheckpointKey;
let sink: FileAuditSink;
let live: string;
/** The log's lines once every record was confirmed (the sink still open, as a power loss finds it). */
let written: string[];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-ring-recovery-'));
  const k = await generateCheckpointKeys();
  writeFileSync(join(dir, 'checkpoint.key'), k.privatePem);
  signer = await loadCheckpointSigner(join(dir, 'checkpoint.key'));
  key = await loadCheckpointKey(k.publicPem);
  live = join(dir, 'audit.ndjson');
  sink = openAuditSink(live, { signer, ringBytes: 1 << 20 });
  for (let i = 0; i < 5; i++) sink.write(statement(i));
  await durable(sink);
  await sink.checkpoint('interval');
  for (let i = 5; i < 40; i++) {
    sink.write(statement(i));
    if (i % 3 === 0) await durable(sink);
  }
  await durable(sink);
  written = lines(live);
});

afterAll(async () => {
  await sink.close();
  await rm(dir, { recursive: true, force: true });
});

/** What a power loss leaves: the ring as flushed, the chain state, the log cut after `keep` lines, plus `tail` (a torn line, zeros). */
function powerLoss(name: string, keep: number, tail: Buffer = Buffer.alloc(0)): string {
  const at = join(dir, name);
  mkdirSync(at);
  const file = join(at, 'audit.ndjson');
  copyFileSync(`${live}.wal`, `${file}.wal`);
  copyFileSync(`${live}.chain`, `${file}.chain`); // the state saved at the checkpoint (it names the last one)
  copyFileSync(live, file);
  truncateSync(file, written.slice(0, keep).reduce((n, l) => n + Buffer.byteLength(l) + 1, 0));
  writeFileSync(file, tail, { flag: 'a' });
  return file;
}

describe('recovery from the write-ahead ring', () => {
  it.each([
    ['the log cut after its first record', 1, Buffer.alloc(0)],
    ['the log cut after its checkpoint, a torn line and zeros after it', 7, Buffer.concat([Buffer.from(written?.[7]?.slice(0, 40) ?? '{"v":1,"seq"'), Buffer.alloc(4096)])],
  ])('%s: the missing records are appended before anything else, and the log verifies', async (_, keep, tail) => {
    const file = powerLoss(`cut-${keep}`, keep, tail);
    const problems: string[] = [];
    const again = openAuditSink(file, { signer, ringBytes: 1 << 20, onProblem: (level, m) => problems.push(`${level}: ${m}`) });
    await again.close();
    const after = lines(file);
    // Every record the first gateway wrote, in order, then the second gateway's own (opened, shutdown checkpoint).
    expect(after.slice(0, written.length)).toEqual(written);
    expect(after.slice(written.length).map((l) => (JSON.parse(l) as { type: string }).type)).toEqual(['sink', 'checkpoint']);
    expect(problems.filter((p) => p.startsWith('error'))).toEqual([]);
    if (keep < written.length) expect(problems).toContainEqual(expect.stringMatching(new RegExp(`^info: .*${written.length - keep} records after it were recovered`)));
    const report = await verifyAuditFiles([file], key);
    expect(report.findings).toEqual([]);
    expect(report.status).toBe('ok');
  });

  // The ring's size changed, or the ring turned off, while the gateway was down after the crash.
  it.each([
    ['another ring size', 1 << 17],
    ['no ring', 0],
  ])('restarted with %s: the records are still recovered from the ring left beside the log', async (_, ringBytes) => {
    const file = powerLoss(`changed-${ringBytes}`, 3);
    const problems: string[] = [];
    const again = openAuditSink(file, { signer, ringBytes, onProblem: (level, m) => problems.push(`${level}: ${m}`) });
    await again.close();
    expect(lines(file).slice(0, written.length)).toEqual(written);
    expect(problems).toContainEqual(expect.stringMatching(new RegExp(`^info: .*${written.length - 3} records after it were recovered`)));
    expect((await verifyAuditFiles([file], key)).status).toBe('ok');
  });

  it('after a rotation: the new file cut after its first record is completed from the ring, and both files verify as one log', async () => {
    const rotatedLive = join(dir, 'rotating', 'audit.ndjson');
    const first = openAuditSink(rotatedLive, { signer, ringBytes: 1 << 20 });
    for (let i = 0; i < 5; i++) first.write(statement(i));
    await durable(first);
    const aside = (await first.rotate())!;
    for (let i = 5; i < 12; i++) first.write(statement(i));
    await durable(first);
    const newFile = lines(rotatedLive);
    const at = join(dir, 'rotated-cut');
    mkdirSync(at);
    const file = join(at, 'audit.ndjson');
    for (const ext of ['.wal', '.chain']) copyFileSync(`${rotatedLive}${ext}`, `${file}${ext}`);
    writeFileSync(file, `${newFile[0]}\n`);
    await first.close();
    const again = openAuditSink(file, { signer, ringBytes: 1 << 20 });
    await again.close();
    expect(lines(file).slice(0, newFile.length)).toEqual(newFile);
    const report = await verifyAuditFiles([aside, file], key);
    expect(report.findings).toEqual([]);
    expect(report.status).toBe('ok');
  });

  it('a whole log takes nothing from the ring, however often it is opened', async () => {
    const file = powerLoss('whole', written.length);
    for (let i = 0; i < 2; i++) {
      const problems: string[] = [];
      const again = openAuditSink(file, { signer, ringBytes: 1 << 20, onProblem: (level, m) => problems.push(`${level}: ${m}`) });
      await again.close();
      expect(problems.filter((p) => p.includes('recovered'))).toEqual([]);
    }
    expect(lines(file).slice(0, written.length)).toEqual(written);
    expect((await verifyAuditFiles([file], key)).status).toBe('ok');
  });
});
