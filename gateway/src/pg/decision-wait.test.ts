import { describe, expect, it } from 'vitest';
import type { GatehouseError } from '../errors.ts';
import { DecisionWait, type HoldHandlers } from './decision-wait.ts';
import { mapInSlices, SliceStop, SlicesStopped } from '../work-slices.ts';

function session() {
  const s = { closed: false, failures: [] as unknown[], resumes: 0 };
  const wait = new DecisionWait({ isClosed: () => s.closed, failed: (e) => void s.failures.push(e), resumed: () => void s.resumes++ });
  return { s, wait };
}

function handlers(): HoldHandlers<string> & { log: string[] } {
  const log: string[] = [];
  return { log, resume: (v) => void log.push(`resume ${v}`), cancel: (e: GatehouseError) => void log.push(`cancel ${e.sqlstate}`), late: (v) => void log.push(`late ${v}`) };
}

function later(): { promise: Promise<string>; settle: (v: string) => void } {
  let settle!: (v: string) => void;
  const promise = new Promise<string>((r) => (settle = r));
  return { promise, settle };
}

describe('DecisionWait', () => {
  it('applies a value at hand at once, without waiting', () => {
    const { s, wait } = session();
    const h = handlers();
    wait.hold('now', h);
    expect(h.log).toEqual(['resume now']);
    expect(wait.active).toBe(false);
    expect(s.resumes).toBe(0);
  });

  it('waits for a value to come, then applies it and lets the held messages go on', async () => {
    const { s, wait } = session();
    const h = handlers();
    const v = later();
    wait.hold(v.promise, h);
    expect(wait.active).toBe(true);
    v.settle('decided');
    await v.promise;
    await Promise.resolve();
    expect(h.log).toEqual(['resume decided']);
    expect(wait.active).toBe(false);
    expect(s.resumes).toBe(1);
  });

  it('a cancel answers 57014 at once; the value, when it comes, is only accounted for', async () => {
    const { s, wait } = session();
    const h = handlers();
    const v = later();
    wait.hold(v.promise, h);
    expect(wait.cancel()).toBe(true);
    expect(wait.cancel()).toBe(false);
    expect(wait.active).toBe(false);
    v.settle('decided');
    await v.promise;
    await Promise.resolve();
    expect(h.log).toEqual(['cancel 57014', 'late decided']);
    expect(s.resumes).toBe(0);
  });

  it('after the session ended the value is late, and a resume that throws ends the session', async () => {
    const ended = session();
    const h = handlers();
    const v = later();
    ended.wait.hold(v.promise, h);
    ended.s.closed = true;
    ended.wait.forget();
    v.settle('decided');
    await v.promise;
    await Promise.resolve();
    expect(h.log).toEqual(['late decided']);

    const failing = session();
    const w = later();
    failing.wait.hold(w.promise, { ...handlers(), resume: () => { throw new Error('bad frame'); } });
    w.settle('x');
    await w.promise;
    await Promise.resolve();
    expect(failing.s.failures.map((e) => (e as Error).message)).toEqual(['bad frame']);
    expect(failing.s.resumes).toBe(0);
  });

  it('a cancel stops the decision; while its run of slices ends, later messages wait and a second cancel finds nothing', async () => {
    const { s, wait } = session();
    const h = handlers();
    const stop = new SliceStop();
    let steps = 0;
    const run = mapInSlices(
      10_000,
      () => {
        const until = performance.now() + 0.1;
        while (performance.now() < until);
        steps++;
      },
      1,
      stop,
    );
    const decided = (run as Promise<unknown>).then(
      () => 'all decided',
      (e: unknown) => (e instanceof SlicesStopped ? `stopped after ${e.done}` : 'failed'),
    );
    wait.hold(decided, h, stop);
    expect(wait.cancel()).toBe(true);
    expect(h.log).toEqual(['cancel 57014']);
    expect(stop.reason).toBe('cancelled');
    expect(wait.active).toBe(true); // the run is still between two slices
    expect(wait.cancel()).toBe(false);
    expect(h.log).toEqual(['cancel 57014']);
    const outcome = await decided;
    expect(outcome).toBe(`stopped after ${steps}`);
    expect(steps).toBeLessThan(10_000);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(wait.active).toBe(false);
    expect(s.resumes).toBe(1);
    expect(h.log).toEqual(['cancel 57014', `late stopped after ${steps}`]);
  });

  it('the end of the session stops the decision waited for', () => {
    const { wait } = session();
    const stop = new SliceStop();
    wait.hold(later().promise, handlers(), stop);
    wait.forget();
    expect(stop.reason).toBe('session ended');
  });
});
