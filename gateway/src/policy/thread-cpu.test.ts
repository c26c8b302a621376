import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { currentThreadId, ThreadCpuClock } from './thread-cpu.ts';

/** A worker that reports its thread id, then spins (busy) or sleeps for `ms` of wall time. */
function thread(busy: boolean, ms: number): Promise<{ tid: number | null; finished: Promise<void> }> {
  const code = `
    const { parentPort } = require('node:worker_threads');
    const { readlinkSync } = require('node:fs');
    parentPort.postMessage(Number(readlinkSync('/proc/thread-self').split('/').pop()));
    parentPort.once('message', () => {
      const end = Date.now() + ${ms};
      if (${busy}) { while (Date.now() < end); parentPort.postMessage('done'); }
      else setTimeout(() => parentPort.postMessage('done'), ${ms});
    });`;
  const w = new Worker(code, { eval: true });
  return new Promise((resolve) => {
    w.once('message', (tid: number) => {
      const finished = new Promise<void>((done) => w.once('message', () => void w.terminate().then(() => done())));
      w.postMessage('go');
      resolve({ tid, finished });
    });
  });
}

describe('ThreadCpuClock', () => {
  it('knows the current thread on Linux', () => {
    expect(currentThreadId()).toBeGreaterThan(0);
  });

  it("reads another thread's CPU time: it advances while the thread works, not while it sleeps, and never faster than the wall clock", async () => {
    for (const busy of [true, false]) {
      const { tid, finished } = await thread(busy, 300);
      const clock = ThreadCpuClock.open(tid!)!;
      const start = performance.now();
      const before = clock.millis()!;
      await new Promise((r) => setTimeout(r, 200));
      const used = clock.millis()! - before;
      const wall = performance.now() - start;
      clock.close();
      await finished;
      // schedstat's run time of a running thread is brought up to date at scheduler ticks and
      // switches, so either reading may lag by up to a tick (4 ms at HZ=250, 10 ms at HZ=100):
      // allow two ticks of the slowest kind. A clock that counted wall time twice would still fail.
      expect(used).toBeLessThanOrEqual(wall + 20);
      if (busy) expect(used).toBeGreaterThan(0);
      else expect(used).toBeLessThan(10);
    }
  });

  it('is null for a thread that does not exist', () => {
    expect(ThreadCpuClock.open(2 ** 30)).toBeNull();
  });
});
