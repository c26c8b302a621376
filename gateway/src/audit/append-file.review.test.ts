// Adversarial review: a failed flush must never be followed by "durable" for the records it covered
// (after a failed fdatasync Linux drops the dirty pages' error, so a second fdatasync can succeed
// though the records never reached the disk: write-ahead would let the statement run).
import { mkdtempSync, rmSync } from 'node:fs';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';

const failNext = { sync: 0, async: 0, slow: 0, syncCalls: 0, asyncCalls: 0 };
vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  return {
    ...real,
    fdatasyncSync: (fd: number): void => {
      failNext.syncCalls++;
      if (failNext.sync > 0) {
        failNext.sync--;
        throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
      }
      real.fdatasyncSync(fd);
    },
    fdatasync: (fd: number, callback: (error: NodeJS.ErrnoException | null) => void): void => {
      failNext.asyncCalls++;
      if (failNext.async > 0) {
        failNext.async--;
        // The flush in the thread pool gets the write-back error; one made meanwhile on the main thread does not.
        setTimeout(() => callback(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' })), 30);
        return;
      }
      if (failNext.slow > 0) {
        failNext.slow--;
        real.fdatasyncSync(fd);
        setTimeout(() => callback(null), 30); // a flush that takes a while
        return;
      }
      real.fdatasync(fd, callback);
    },
  };
});

const { AppendFile } = await import('./append-file.ts');

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-append-review-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('AppendFile after a failed flush (review)', () => {
  it('a waiter covered by a failed syncNow() is told the error, not durable by a later flush at close()', async () => {
    expect(typeof fs.fdatasyncSync).toBe('function');
    const file = new AppendFile(join(dir, 'a.ndjson'), true);
    file.append(Buffer.from('{"seq":1}\n'));
    const answers: Array<Error | null> = [];
    file.whenDurable((e) => answers.push(e));
    failNext.sync = 1;
    expect(() => file.syncNow()).toThrow('EIO'); // as switchFile's flush before a rotation
    file.close(); // closes the file; the second flush succeeds
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 20));
    expect(answers).toHaveLength(1);
    expect(answers[0]).toBeInstanceOf(Error);
  });

  it('a syncNow() made while a background flush is in flight answers no waiter before that flush says how it went', async () => {
    const file = new AppendFile(join(dir, 'b.ndjson'), true);
    file.append(Buffer.from('{"seq":1}\n'));
    const answers: Array<Error | null> = [];
    failNext.async = 1;
    file.whenDurable((e) => answers.push(e));
    await new Promise((r) => setImmediate(r)); // the background fdatasync starts (and will fail)
    file.syncNow(); // as switchFile or close() does; succeeds, the error having gone to the other flush
    file.close();
    await new Promise((r) => setTimeout(r, 80));
    expect(answers).toHaveLength(1);
    expect(answers[0]).toBeInstanceOf(Error);
  });

  it('close() during a background flush still flushes the batches appended after that flush began', async () => {
    const file = new AppendFile(join(dir, 'c.ndjson'), true);
    const answers: Array<Error | null> = [];
    file.append(Buffer.from('{"seq":1}\n'));
    failNext.slow = 1;
    file.whenDurable((e) => answers.push(e));
    await new Promise((r) => setImmediate(r)); // the background flush covers batch 1
    file.append(Buffer.from('{"seq":2}\n'));
    file.whenDurable((e) => answers.push(e));
    const before = failNext.syncCalls;
    file.close();
    await vi.waitFor(() => expect(answers).toHaveLength(2), { timeout: 30_000, interval: 5 });
    expect(answers).toEqual([null, null]);
    expect(failNext.syncCalls - before).toBe(1); // batch 2 was flushed before it was called durable
  });

  it('records written while a flush is in flight get a flush of their own at once, answered after the first', async () => {
    const file = new AppendFile(join(dir, 'd.ndjson'), true);
    const answers: string[] = [];
    file.append(Buffer.from('{"seq":1}\n'));
    failNext.slow = 1;
    const before = failNext.asyncCalls;
    let callsWhenFirstAnswered = -1;
    file.whenDurable((e) => {
      answers.push(`1:${e === null}`);
      callsWhenFirstAnswered = failNext.asyncCalls - before;
    });
    await new Promise((r) => setImmediate(r)); // the first flush covers batch 1 and takes a while
    file.append(Buffer.from('{"seq":2}\n'));
    file.whenDurable((e) => answers.push(`2:${e === null}`));
    // Both answers come after real fdatasyncs: wait for them, however loaded the machine is.
    await vi.waitFor(() => expect(answers).toHaveLength(2), { timeout: 30_000, interval: 5 });
    expect(answers).toEqual(['1:true', '2:true']); // the second flush, though quicker, is answered after the first
    expect(callsWhenFirstAnswered).toBe(2); // batch 2's flush had started before the first one reported
    file.close();
  });

  it('a flush that fails beside a later one that succeeds fails the batches of both', async () => {
    const file = new AppendFile(join(dir, 'e.ndjson'), true);
    const answers: string[] = [];
    file.append(Buffer.from('{"seq":1}\n'));
    failNext.async = 1; // the first flush reports EIO after 30 ms
    const before = failNext.asyncCalls;
    file.whenDurable((e) => answers.push(`1:${e === null ? 'durable' : (e as NodeJS.ErrnoException).code}`));
    await new Promise((r) => setImmediate(r));
    file.append(Buffer.from('{"seq":2}\n'));
    file.whenDurable((e) => answers.push(`2:${e === null ? 'durable' : (e as NodeJS.ErrnoException).code}`));
    await vi.waitFor(() => expect(answers).toHaveLength(2), { timeout: 30_000, interval: 5 });
    expect(failNext.asyncCalls - before).toBe(2); // the second (real, successful) flush ran beside the first
    expect(answers).toEqual(['1:EIO', '2:EIO']);
    file.close();
  });
});
