import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { CatalogSnapshot, type CatalogReader, type SnapshotSource, type SnapshotTiming } from './catalog-snapshot.ts';

const TIMING: SnapshotTiming = { refreshAfterMs: 100, minBackoffMs: 50, maxBackoffMs: 200, minRefreshIntervalMs: 10 };

/** A snapshot of a list of names, read from a scripted source, on a clock the test moves. */
function harness() {
  let rows: string[] = ['a'];
  let fail: Error | null = null;
  let hang: (() => void) | null = null;
  let hanging = false;
  let reads = 0;
  let time = 1_000;
  const logs: string[] = [];
  const source: SnapshotSource<string[], { names: string[] }> = {
    name: 'name snapshot',
    read: async () => {
      reads++;
      if (hanging) await new Promise<void>((resolve) => (hang = resolve));
      if (fail) throw fail;
      return [...rows];
    },
    build: (r) => ({ names: r }),
  };
  const reader: CatalogReader = (read) => read({} as pg.Client);
  const snap = new CatalogSnapshot(reader, source, (m) => logs.push(m), TIMING, () => time);
  return {
    snap,
    logs,
    reads: () => reads,
    setRows: (r: string[]) => (rows = r),
    setFail: (e: Error | null) => (fail = e),
    setHanging: (h: boolean) => (hanging = h),
    release: () => hang?.(),
    advance: (ms: number) => (time += ms),
    settle: () => new Promise((r) => setTimeout(r, 0)),
  };
}

describe('CatalogSnapshot', () => {
  it('refreshInBackground() during a read in flight owes one read that starts after it; nothing waits', async () => {
    const h = harness();
    await h.snap.ready();
    h.setHanging(true);
    h.snap.refreshInBackground(); // read 2 starts
    await h.settle();
    h.setRows(['a', 'b']); // the change the flood's last notification announced, after read 2 began
    h.snap.refreshInBackground();
    h.snap.refreshInBackground(); // coalesced into the same owed read
    expect(h.snap.changePending()).toBe(false);
    await expect(h.snap.afterChange(1000)).resolves.toBe('fresh'); // at once: no change was announced
    h.setHanging(false);
    h.release();
    await h.settle();
    await h.settle();
    expect(h.reads()).toBe(3);
    expect(h.snap.current()?.names).toEqual(['a', 'b']);
  });

  it('keeps the same snapshot object when a refresh returns the same rows, and builds a new one when they change', async () => {
    const h = harness();
    await h.snap.ready();
    const first = h.snap.current();
    expect(first?.names).toEqual(['a']);
    h.advance(200); // stale
    expect(h.snap.current()).toBe(first); // served stale while the refresh runs
    await h.settle();
    expect(h.reads()).toBe(2);
    expect(h.snap.current()).toBe(first); // same rows: same object, caches keyed by it stay warm
    expect(h.snap.stats().builds).toBe(1);
    h.setRows(['a', 'b']);
    h.advance(200);
    h.snap.current();
    await h.settle();
    expect(h.snap.current()?.names).toEqual(['a', 'b']);
    expect(h.snap.stats().builds).toBe(2);
  });

  it('runs one read at a time however many callers ask', async () => {
    const h = harness();
    h.setHanging(true);
    for (let i = 0; i < 200; i++) {
      expect(h.snap.current()).toBeNull();
      h.snap.refreshSoon();
    }
    expect(h.reads()).toBe(1);
    h.release();
    await h.settle();
    await h.settle();
    expect(h.snap.current()?.names).toEqual(['a']);
  });

  it('serves the last snapshot while a refresh hangs, without starting another', async () => {
    const h = harness();
    await h.snap.ready();
    const first = h.snap.current();
    h.setHanging(true);
    h.advance(200);
    for (let i = 0; i < 50; i++) {
      h.advance(200);
      expect(h.snap.current()).toBe(first);
    }
    expect(h.reads()).toBe(2);
  });

  it('logs a failed refresh, keeps serving the last snapshot, and waits a growing backoff before trying again', async () => {
    const h = harness();
    await h.snap.ready();
    const first = h.snap.current();
    h.setFail(new Error('connection refused'));
    h.advance(200);
    h.snap.current();
    await h.settle();
    expect(h.snap.stats().consecutiveFailures).toBe(1);
    expect(h.logs.join('\n')).toMatch(/name snapshot: could not read .*connection refused.*keeps serving.*next attempt in 0\.1 s/);
    expect(h.snap.current()).toBe(first);
    // Within the backoff (50 ms), nothing is read, however often it is asked.
    h.advance(40);
    h.snap.current();
    h.snap.refreshSoon();
    expect(h.reads()).toBe(2);
    h.advance(20);
    h.snap.current();
    await h.settle();
    expect(h.reads()).toBe(3);
    expect(h.snap.stats().consecutiveFailures).toBe(2);
    expect(h.logs.at(-1)).toMatch(/next attempt in 0\.1 s/); // 100 ms after the second failure
    h.setFail(null);
    h.advance(100);
    h.snap.current();
    await h.settle();
    expect(h.snap.stats().consecutiveFailures).toBe(0);
    expect(h.logs.at(-1)).toBe('name snapshot: read again after 2 failed attempt(s)');
  });

  it('with no snapshot and a failed first read, ready() returns at once during the backoff (new sessions do not wait)', async () => {
    const h = harness();
    h.setFail(new Error('down'));
    await h.snap.ready();
    expect(h.snap.current()).toBeNull();
    expect(h.logs[0]).toMatch(/statements that need it are refused/);
    const readsBefore = h.reads();
    await h.snap.ready(60_000); // would hang the test if it waited
    expect(h.reads()).toBe(readsBefore);
  });

  it('refreshSoon() reads again unless the snapshot was just confirmed', async () => {
    const h = harness();
    await h.snap.ready();
    h.snap.refreshSoon();
    expect(h.reads()).toBe(1);
    h.advance(20);
    h.snap.refreshSoon();
    await h.settle();
    expect(h.reads()).toBe(2);
  });
});

describe('CatalogSnapshot after a schema change (invalidate, afterChange)', () => {
  it('nothing is pending normally; after invalidate() a read starts at once and afterChange() resolves fresh with the new rows', async () => {
    const h = harness();
    await h.snap.ready();
    expect(h.snap.changePending()).toBe(false);
    h.setRows(['a', 'v']);
    h.snap.invalidate(); // checked just now: a plain refreshSoon() would not read
    expect(h.snap.changePending()).toBe(true);
    expect(await h.snap.afterChange(5_000)).toBe('fresh');
    expect(h.snap.current()?.names).toEqual(['a', 'v']);
    expect(h.snap.changePending()).toBe(false);
    expect(h.reads()).toBe(2);
  });

  it('a read in flight when the change is announced does not count: another read follows it', async () => {
    const h = harness();
    await h.snap.ready();
    h.setHanging(true);
    h.snap.reload().catch(() => undefined); // a read starts (it may have read the catalog before the change)
    await h.settle();
    h.snap.invalidate();
    const waiting = h.snap.afterChange(5_000);
    h.setHanging(false);
    h.setRows(['a', 'late']);
    h.release();
    expect(await waiting).toBe('fresh');
    expect(h.reads()).toBe(3);
    expect(h.snap.current()?.names).toEqual(['a', 'late']);
  });

  it('a failed read after a change answers failed, and so does every wait during the backoff; a later success is fresh', async () => {
    const h = harness();
    await h.snap.ready();
    h.setFail(new Error('connection refused'));
    h.snap.invalidate();
    expect(await h.snap.afterChange(5_000)).toBe('failed');
    expect(await h.snap.afterChange(5_000)).toBe('failed'); // backoff: no read started
    expect(h.snap.changePending()).toBe(true);
    h.setFail(null);
    h.advance(1_000); // past the backoff: the next wait starts a read
    expect(await h.snap.afterChange(5_000)).toBe('fresh');
  });

  it('a wait needs only the changes announced before it: one announced meanwhile does not hold it (R12-2)', async () => {
    const h = harness();
    await h.snap.ready();
    h.setHanging(true);
    h.snap.invalidate(); // a read starts after this change (it hangs)
    await h.settle();
    const waiting = h.snap.afterChange(1_000);
    h.snap.invalidate(); // another session's change, after the statement arrived: the next read will hang too
    h.release(); // the read that started after the first change ends
    expect(await waiting).toBe('fresh');
    expect(h.snap.changePending()).toBe(true); // the second change is still to be read
    await h.settle();
    h.setHanging(false);
    h.release();
    expect(await h.snap.afterChange(5_000)).toBe('fresh');
  });

  it('a read that does not end in time answers timeout, and the change stays pending', async () => {
    const h = harness();
    await h.snap.ready();
    h.setHanging(true);
    h.snap.invalidate();
    expect(await h.snap.afterChange(20)).toBe('timeout');
    expect(h.snap.changePending()).toBe(true);
    h.setHanging(false);
    h.release();
    expect(await h.snap.afterChange(5_000)).toBe('fresh');
  });
});

describe('CatalogSnapshot.fresh (a write under a mask: R10-10)', () => {
  it('a read in flight when it is asked does not count: it resolves fresh after a read that started later, with its rows', async () => {
    const h = harness();
    await h.snap.ready();
    h.setHanging(true);
    h.advance(200);
    h.snap.current(); // a background read starts, and hangs
    expect(h.reads()).toBe(2);
    h.setRows(['a', 'late']);
    const wait = h.snap.fresh(1_000);
    h.setHanging(false);
    h.release();
    expect(await wait).toBe('fresh');
    expect(h.reads()).toBe(3);
    expect(h.snap.current()?.names).toEqual(['a', 'late']);
  });

  it('nothing else waits: no change is pending for other statements while it reads', async () => {
    const h = harness();
    await h.snap.ready();
    h.setHanging(true);
    const wait = h.snap.fresh(1_000);
    expect(h.snap.changePending()).toBe(false);
    expect(h.snap.current()?.names).toEqual(['a']); // served at once
    h.setHanging(false);
    h.release();
    expect(await wait).toBe('fresh');
  });

  it('answers failed when its read fails (and at once during the backoff), timeout when the read hangs', async () => {
    const h = harness();
    await h.snap.ready();
    h.setFail(new Error('down'));
    expect(await h.snap.fresh(1_000)).toBe('failed');
    expect(await h.snap.fresh(1_000)).toBe('failed');
    h.setFail(null);
    h.advance(1_000);
    h.setHanging(true);
    expect(await h.snap.fresh(20)).toBe('timeout');
    h.release();
  });
});
