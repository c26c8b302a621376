// The file sink when the write at the end of a turn fails. Preallocated, a record's space is reserved
// when it is accepted, so that write goes into space the file already has and no real file system
// here makes it fail: fs.writevSync is made to fail once (EIO), as a dying disk would.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { AuditRecord } from './types.ts';

const failNext = { writev: 0 };
vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  return {
    ...real,
    writevSync: (fd: number, buffers: readonly NodeJS.ArrayBufferView[], position?: number | null): number => {
      if (failNext.writev > 0) {
        failNext.writev--;
        throw Object.assign(new Error('EIO: i/o error, writev'), { code: 'EIO' });
      }
      return real.writevSync(fd, buffers, position ?? undefined);
    },
  };
});

const { openAuditSink } = await import('./file-sink.ts');
const { verifyAuditFiles } = await import('./verify.ts');

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-turn-write-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const session = (n: number): AuditRecord => ({
  v: 1,
  type: 'session',
  time: new Date().toISOString(),
  session_id: `s-${n}`,
  event: 'auth_ok',
  client_address: '127.0.0.1',
  application_name: 'test',
  identity: null,
  reason: null,
});
const durable = (sink: { whenDurable(done: (e: Error | null) => void): void }): Promise<Error | null> => new Promise((resolve) => sink.whenDurable(resolve));

describe('file sink, the write at the end of a turn failing', () => {
  it('fails the waiters of the lost records, refuses until it recovers, and keeps the chain whole (the lost records are not in it)', async () => {
    const file = join(dir, 'audit.ndjson');
    const problems: string[] = [];
    const sink = openAuditSink(file, { fsync: true, preallocateBytes: 64 * 1024, retryMs: 20, onProblem: (level, m) => problems.push(`${level}: ${m}`) });
    sink.write(session(1));
    expect(await durable(sink)).toBeNull();
    failNext.writev = 1;
    sink.write(session(2));
    sink.write(session(3)); // two batches in one turn: one gathered write, which fails
    const lost = await durable(sink);
    expect((lost as NodeJS.ErrnoException | null)?.code).toBe('EIO');
    expect(() => sink.write(session(4))).toThrow(expect.objectContaining({ sqlstate: '58030' }));
    for (let i = 0; i < 100 && !sink.health().writable; i++) await new Promise((r) => setTimeout(r, 10));
    expect(sink.health().writable).toBe(true);
    sink.write(session(5));
    expect(await durable(sink)).toBeNull();
    await sink.close();
    const report = await verifyAuditFiles([file], null);
    expect(report.findings.filter((f) => f.severity === 'tampered')).toEqual([]);
    const text = (await import('node:fs')).readFileSync(file, 'utf8');
    expect(text).not.toContain('"s-2"');
    expect(text).not.toContain('"s-3"');
    expect(text).toContain('"s-5"');
    expect(problems[0]).toMatch(/^error: .*EIO/);
  });
});
