// The write-ahead ring when it cannot be written: a gateway does not open its log without it (fail
// closed at start), and a ring that cannot be made at a rotation refuses statements (58030) until it
// can, then recovers by itself with the chain whole across the outage.
import { mkdirSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatehouseError } from '../errors.ts';
import { openAuditSink } from './file-sink.ts';
import type { AuditRecord } from './types.ts';
import { verifyAuditFiles } from './verify.ts';

const record = (i: number): AuditRecord => ({ v: 1, type: 'sink', time: new Date(0).toISOString(), event: 'opened', outage: null, note: `r${i}` }) as unknown as AuditRecord;
const waitFor = async (ok: () => boolean): Promise<void> => {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
};

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-ring-sink-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('an audit log whose write-ahead ring cannot be written', () => {
  it('is not opened (AUDIT_WRITE_FAILED, naming the log) when the ring cannot be made', () => {
    const file = join(dir, 'blocked.ndjson');
    mkdirSync(`${file}.wal`); // a directory where the ring goes
    let error: unknown = null;
    try {
      openAuditSink(file, { ringBytes: 1 << 16 });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(GatehouseError);
    expect((error as GatehouseError).code).toBe('AUDIT_WRITE_FAILED');
    expect((error as GatehouseError).message).toContain(file);
  });

  it('refuses with 58030 while the ring of a rotated file cannot be made, and recovers by itself', async () => {
    const file = join(dir, 'rotating.ndjson');
    const problems: string[] = [];
    const sink = openAuditSink(file, { ringBytes: 1 << 16, retryMs: 20, onProblem: (level, m) => problems.push(`${level}: ${m}`) });
    sink.write(record(1));
    // The ring's place taken by a device that is always full: the rotated file gets no ring.
    rmSync(`${file}.wal`);
    symlinkSync('/dev/full', `${file}.wal`);
    await sink.rotate();
    let refused: unknown = null;
    try {
      sink.write(record(2));
    } catch (e) {
      refused = e;
    }
    expect((refused as GatehouseError).sqlstate).toBe('58030');
    expect(sink.health().writable).toBe(false);
    expect(problems.some((p) => p.startsWith('error: '))).toBe(true);
    rmSync(`${file}.wal`);
    await waitFor(() => sink.health().writable);
    expect(sink.health().writable).toBe(true);
    sink.write(record(3));
    await new Promise<void>((resolve, reject) => sink.whenDurable((e) => (e ? reject(e) : resolve())));
    await sink.close();
    expect(problems.at(-1)).toMatch(/^info: .*writable again/);
    // The file moved aside at the rotation and the new one: one chain across the outage.
    const aside = readdirSync(dir).filter((f) => /^rotating\.ndjson\.\d{8}T\d{6}Z/.test(f));
    expect(aside).toHaveLength(1);
    const report = await verifyAuditFiles([join(dir, aside[0]!), file], null);
    expect(report.findings.map((f) => f.kind)).toEqual(['unsigned']);
  });
});
