// Adversarial review: a failed flush must never be followed by "durable" for the records it covered
// (after a failed fdatasync Linux drops the dirty pages' error, so a second fdatasync can succeed
// though the records never reached the disk: write-ahead would let the statement run).
import { mkdtempSync, rmSync } from 'node:fs';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';

const failNext = { sync: 0, async: 0, slow: 0, hold: 0, syncCalls: 0, asyncCalls: 0 };
/** Flushes kept from completing until the test answers them (failNext.hold). */
const held: Array<(error: NodeJS.ErrnoException | null) => void> = [];
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
      if (failNext.hold > 0) {
        failNext.hold--;
        held.push((error) => callback(error));
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

  it('records written while a flush is in flight get a flush of their own at once, answered in the order they asked', async () => {
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

  it('starts a flush at once when none runs, and runs up to three at once', async () => {
    const file = new AppendFile(join(dir, 'g.ndjson'), true);
    const answers: Array<Error | null> = [];
    const before = failNext.asyncCalls;
    failNext.hold = 3;
    file.append(Buffer.from('{"seq":1}\n'));
    file.whenDurable((e) => answers.push(e));
    expect(failNext.asyncCalls - before).toBe(1); // not at the end of the turn: the disk was idle
    for (let n = 2; n <= 4; n++) {
      await new Promise((r) => setImmediate(r));
      file.append(Buffer.from(`{"seq":${n}}\n`));
      file.whenDurable((e) => answers.push(e));
    }
    await new Promise((r) => setImmediate(r));
    expect(failNext.asyncCalls - before).toBe(3); // the fourth batch waits for a descriptor
    expect(held).toHaveLength(3);
    for (const release of held.splice(0)) release(null);
    await vi.waitFor(() => expect(answers).toHaveLength(4), { timeout: 30_000, interval: 5 });
    expect(answers).toEqual([null, null, null, null]);
    expect(failNext.asyncCalls - before).toBe(4);
    file.close();
  });

  it('a later flush that completes first answers the batches of an earlier one still running (it began after they were written)', async () => {
    const file = new AppendFile(join(dir, 'e.ndjson'), true);
    const answers: string[] = [];
    file.append(Buffer.from('{"seq":1}\n'));
    failNext.hold = 1; // the first flush does not complete until the test says so
    const before = failNext.asyncCalls;
    file.whenDurable((e) => answers.push(`1:${e === null ? 'durable' : (e as NodeJS.ErrnoException).code}`));
    file.append(Buffer.from('{"seq":2}\n'));
    file.whenDurable((e) => answers.push(`2:${e === null ? 'durable' : (e as NodeJS.ErrnoException).code}`));
    await vi.waitFor(() => expect(answers).toHaveLength(2), { timeout: 30_000, interval: 5 });
    expect(failNext.asyncCalls - before).toBe(2); // the second (real) flush ran beside the held one
    expect(held).toHaveLength(1); // ... which has still not completed
    expect(answers).toEqual(['1:durable', '2:durable']);
    held.shift()!(null);
    file.close();
  });

  it('a flush that fails after a later one confirmed its batches fails what still waits, and tells the owner even when no one waits', async () => {
    const failures: string[] = [];
    const file = new AppendFile(join(dir, 'f.ndjson'), true, 0, undefined, (e) => failures.push((e as NodeJS.ErrnoException).code ?? e.message));
    const answers: string[] = [];
    const answer = (n: number) => (e: Error | null) => answers.push(`${n}:${e === null ? 'durable' : (e as NodeJS.ErrnoException).code}`);
    file.append(Buffer.from('{"seq":1}\n'));
    failNext.hold = 1;
    file.whenDurable(answer(1));
    file.append(Buffer.from('{"seq":2}\n'));
    file.whenDurable(answer(2));
    await vi.waitFor(() => expect(answers).toHaveLength(2), { timeout: 30_000, interval: 5 });
    expect(answers).toEqual(['1:durable', '2:durable']);
    // A third batch whose flush is held too, then the first flush reports EIO.
    failNext.hold = 1;
    file.append(Buffer.from('{"seq":3}\n'));
    file.whenDurable(answer(3));
    await vi.waitFor(() => expect(held).toHaveLength(2), { timeout: 30_000, interval: 5 });
    held.shift()!(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
    expect(answers).toEqual(['1:durable', '2:durable', '3:EIO']);
    expect(failures).toEqual(['EIO']);
    // The third batch's own flush then succeeds: it confirms nothing (it began before the failure was known).
    held.shift()!(null);
    const late: Array<Error | null> = [];
    file.whenDurable((e) => late.push(e)); // nothing appended since: still the failed batches
    expect(late).toHaveLength(1);
    expect((late[0] as NodeJS.ErrnoException).code).toBe('EIO');
    expect(answers).toHaveLength(3);
    file.close();
  });
});
