import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { RelationCatalog } from '../enforce/relation-catalog.ts';
import { DdlLockWatch } from './ddl-locks.ts';

type Row = { oid: number; pid: number | null; mode: string };

/** A watch over a scripted pg_locks and a snapshot that records invalidations. */
function harness(locked: boolean, buildingInSnapshot = false) {
  let rows: Row[] = [];
  let building: Array<{ rel: number; index: number }> = [];
  let fail: Error | null = null;
  let pending = false;
  const logs: string[] = [];
  const counts = { invalidations: 0 };
  const catalog = new RelationCatalog(
    [{ oid: 1, schema: 'public', name: 't', qualified: 'public.t', kind: 'table', persistence: 'permanent', columns: [], reads: [], ancestors: [], ...(locked ? { lockedBy: [{ pid: 9, mode: 'access_exclusive' as const }] } : {}), ...(buildingInSnapshot ? { buildingIndexes: [77] } : {}) }],
    { hash: false },
  );
  // The poll's second query reads pg_index (indexes not yet valid); the first, pg_locks.
  const client = { query: async (sql: string) => ({ rows: sql.includes('pg_index') ? building : rows }) } as unknown as pg.Client;
  const watch = new DdlLockWatch({
    reader: async (read) => {
      if (fail) throw fail;
      return read(client);
    },
    relations: { peek: () => catalog, invalidate: () => void counts.invalidations++, changePending: () => pending },
    intervalMs: 0,
    log: (m) => logs.push(m),
  });
  return { watch, counts, logs, setRows: (r: Row[]) => (rows = r), setFail: (e: Error | null) => (fail = e), setPending: (p: boolean) => (pending = p), setBuilding: (b: Array<{ rel: number; index: number }>) => (building = b) };
}

describe('DdlLockWatch (R14-3)', () => {
  it('asks for a read when a DDL lock appears that the snapshot does not hold, and not while they agree', async () => {
    const h = harness(false);
    await h.watch.poll();
    expect(h.counts.invalidations).toBe(0);
    h.setRows([{ oid: 1, pid: 9, mode: 'AccessExclusiveLock' }]);
    await h.watch.poll();
    expect(h.counts.invalidations).toBe(1);
    h.setPending(true); // a read is owed already: no second one
    await h.watch.poll();
    expect(h.counts.invalidations).toBe(1);
  });

  it('asks for a read when a lock the snapshot holds is gone (the refusals end at once)', async () => {
    const h = harness(true);
    h.setRows([{ oid: 1, pid: 9, mode: 'AccessExclusiveLock' }]);
    await h.watch.poll();
    expect(h.counts.invalidations).toBe(0);
    h.setRows([]);
    await h.watch.poll();
    expect(h.counts.invalidations).toBe(1);
  });

  it('asks for a read when an index not yet valid appears or goes (CREATE INDEX CONCURRENTLY under way, R15-4), and not while they agree', async () => {
    const h = harness(false);
    await h.watch.poll();
    expect(h.counts.invalidations).toBe(0);
    h.setBuilding([{ rel: 1, index: 77 }]);
    await h.watch.poll();
    expect(h.counts.invalidations).toBe(1);
    const known = harness(false, true);
    known.setBuilding([{ rel: 1, index: 77 }]);
    await known.watch.poll();
    expect(known.counts.invalidations).toBe(0);
    known.setBuilding([]);
    await known.watch.poll();
    expect(known.counts.invalidations).toBe(1);
  });

  it('logs the first failed poll of a streak and the recovery, and never rejects', async () => {
    const h = harness(false);
    h.setFail(new Error('connection refused'));
    await h.watch.poll();
    await h.watch.poll();
    expect(h.logs).toHaveLength(1);
    expect(h.logs[0]).toContain('connection refused');
    h.setFail(null);
    await h.watch.poll();
    expect(h.logs).toHaveLength(2);
    expect(h.watch.polls).toBe(1);
  });
});
