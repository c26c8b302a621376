// A background flush that fails after a later flush answered every statement waiting: the sink
// still hears of it and refuses until the log can be written and flushed again. fdatasync is held
// and failed by the test (a real failing disk: gateway/test/audit-failing-disk.test.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';

const control = { hold: 0 };
const held: Array<(error: NodeJS.ErrnoException | null) => void> = [];
vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  return {
    ...real,
    fdatasync: (fd: number, callback: (error: NodeJS.ErrnoException | null) => void): void => {
      if (control.hold > 0) {
        control.hold--;
        held.push(callback);
        return;
      }
      real.fdatasync(fd, callback);
    },
  };
});

const { openAuditSink } = await import('./file-sink.ts');
const { GatehouseError } = await import('../errors.ts');

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-sink-flush-failed-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const record = () => ({ v: 1 as const, type: 'session' as const, time: new Date().toISOString(), session_id: 's1', event: 'closed' as const, client_address: '', application_name: '', identity: null, reason: null });

describe('file sink, a flush failing after a later one answered its statements', () => {
  it('puts the log in an outage: statements are refused with 58030', async () => {
    const problems: string[] = [];
    const sink = openAuditSink(join(dir, 'audit.ndjson'), { retryMs: 60_000, onProblem: (level) => problems.push(level) });
    const answers: Array<Error | null> = [];
    control.hold = 1;
    sink.write(record());
    sink.whenDurable((e) => answers.push(e)); // its flush starts at once and is held
    sink.write(record());
    sink.whenDurable((e) => answers.push(e)); // a second, real flush at the end of the turn
    await vi.waitFor(() => expect(answers).toHaveLength(2), { timeout: 30_000, interval: 5 });
    expect(answers).toEqual([null, null]);
    expect(sink.health()).toEqual({ writable: true });
    held.shift()!(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
    expect(sink.health().writable).toBe(false);
    expect(problems).toEqual(['error']);
    let refusal: unknown = null;
    try {
      sink.write(record());
    } catch (e) {
      refusal = e;
    }
    expect(refusal).toBeInstanceOf(GatehouseError);
    expect((refusal as InstanceType<typeof GatehouseError>).code).toBe('AUDIT_WRITE_FAILED');
    expect((refusal as InstanceType<typeof GatehouseError>).sqlstate).toBe('58030');
    await sink.close();
  });
});
