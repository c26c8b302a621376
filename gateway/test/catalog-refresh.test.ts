// Catalog snapshots (pg/catalog-snapshot.ts) against the real PostgreSQL: a catalog change is seen
// after a background refresh, a refresh that finds nothing new keeps the snapshot, and a refresh
// held up by a lock neither stalls the other snapshot nor any session's statements: it times out,
// is logged, the last snapshot keeps serving, and the next attempt succeeds once the lock is gone.

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CatalogResolver } from '../src/pg/catalog.ts';
import type { SnapshotTiming } from '../src/pg/catalog-snapshot.ts';
import { ensureClinicDatabase, startTestGateway, type TestGateway } from './support/harness.ts';

const FAST: SnapshotTiming = { refreshAfterMs: 100, minBackoffMs: 100, maxBackoffMs: 400, minRefreshIntervalMs: 50 };
const READ_TIMEOUT_MS = 800;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls until `done` holds (every 50 ms, at most `tries` times); returns whether it did. */
async function until(done: () => boolean, tries = 200): Promise<boolean> {
  for (let i = 0; i < tries && !done(); i++) await sleep(50);
  return done();
}

/** Holds ACCESS EXCLUSIVE on pg_inherits (which the relation snapshot reads and plain SELECTs do not) until released. */
async function lockInherits(url: string): Promise<{ release(): Promise<void> }> {
  const holder = new pg.Client({ connectionString: url });
  await holder.connect();
  await holder.query('BEGIN');
  await holder.query('LOCK TABLE pg_catalog.pg_inherits IN ACCESS EXCLUSIVE MODE');
  return {
    release: async () => {
      await holder.query('ROLLBACK');
      await holder.end();
    },
  };
}

let url: string;
let admin: pg.Client;

beforeAll(async () => {
  url = await ensureClinicDatabase();
  admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query('DROP SCHEMA IF EXISTS refresh_probe CASCADE');
});

afterAll(async () => {
  await admin.query('DROP SCHEMA IF EXISTS refresh_probe CASCADE');
  await admin.end();
});

describe('catalog snapshots against the real PostgreSQL', () => {
  it('sees a new table after a background refresh, and keeps the same snapshot while nothing changes', async () => {
    const logs: string[] = [];
    const catalog = new CatalogResolver({ connectionString: url, database: null, timing: FAST, readTimeoutMs: 5_000, log: (m) => logs.push(m) });
    try {
      await catalog.relations.ready();
      const first = catalog.relations.current();
      expect(first?.get('clinical.patients')?.columns.map((c) => c.name)).toContain('ssn');
      // Refreshes that find the same rows keep the same object (decision and rewrite caches stay warm).
      const readsBefore = catalog.relations.stats().reads;
      expect(await until(() => (catalog.relations.current(), catalog.relations.stats().reads >= readsBefore + 3))).toBe(true);
      expect(catalog.relations.current()).toBe(first);
      expect(catalog.relations.stats().builds).toBe(1);

      await admin.query('CREATE SCHEMA refresh_probe; CREATE TABLE refresh_probe.added (id int, secret text)');
      expect(await until(() => catalog.relations.current()?.get('refresh_probe.added') != null)).toBe(true);
      const second = catalog.relations.current()!;
      expect(second).not.toBe(first);
      expect(second.version).not.toBe(first!.version);
      expect(second.get('refresh_probe.added')!.columns.map((c) => c.name)).toEqual(['id', 'secret']);
      expect(logs).toEqual([]);
    } finally {
      await catalog.close();
    }
  });

  it('a refresh stuck on a lock times out and is logged; the old snapshot and the routine snapshot keep serving meanwhile', async () => {
    const logs: string[] = [];
    const catalog = new CatalogResolver({ connectionString: url, database: null, timing: FAST, readTimeoutMs: READ_TIMEOUT_MS, log: (m) => logs.push(m) });
    try {
      await Promise.all([catalog.relations.ready(), catalog.routines.ready()]);
      const before = catalog.relations.current();
      expect(before).not.toBeNull();
      const lock = await lockInherits(url);
      try {
        await sleep(FAST.refreshAfterMs + 20);
        const routineReads = catalog.routines.stats().reads;
        // Asked for repeatedly while the read hangs: answered at once, with the last snapshot.
        for (let i = 0; i < 40; i++) {
          expect(catalog.relations.current()).toBe(before);
          catalog.routines.current();
          await sleep(50);
        }
        expect(catalog.relations.stats().failures).toBeGreaterThanOrEqual(1);
        expect(logs.some((m) => /relation snapshot: could not read .*(longer than 800 ms|lock timeout).*keeps serving/.test(m))).toBe(true);
        // The routine snapshot has its own connection: it went on refreshing.
        expect(catalog.routines.stats().reads).toBeGreaterThan(routineReads);
        expect(catalog.routines.stats().failures).toBe(0);
      } finally {
        await lock.release();
      }
      expect(await until(() => (catalog.relations.current(), catalog.relations.stats().consecutiveFailures === 0))).toBe(true);
      expect(logs.at(-1)).toMatch(/relation snapshot: read again after \d+ failed attempt/);
      expect(catalog.relations.current()).toBe(before); // same rows: the same snapshot
    } finally {
      await catalog.close();
    }
  });
});

describe('sessions through Gatehouse while its relation snapshot cannot be refreshed', () => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startTestGateway({ catalog: { timing: FAST, readTimeoutMs: READ_TIMEOUT_MS } });
  });

  afterAll(async () => {
    await gw.close();
  });

  it('keeps answering masked statements and accepting sessions, masked values still masked', async () => {
    const token = await gw.token('refresh-agent', ['agents']);
    const clients = await Promise.all([1, 2, 3, 4].map(() => gw.client(token)));
    const real = (await admin.query<{ ssn: string }>('SELECT ssn FROM clinical.patients ORDER BY id LIMIT 5')).rows.map((r) => r.ssn);
    const masked = 'SELECT id, ssn FROM clinical.patients ORDER BY id LIMIT 5';
    // Warm: snapshots loaded. On a busy machine the first read may take longer than this test's
    // 800 ms read timeout; the statement is then refused as not yet decidable: try again.
    for (const c of clients) {
      for (let attempt = 1; ; attempt++) {
        const failure = await c.query(masked).then(() => null, (e: Error) => e);
        if (failure === null) break;
        if (attempt >= 50 || !/has not read the database's catalog yet/.test(failure.message)) throw failure;
        await sleep(100);
      }
    }
    const lock = await lockInherits(url);
    const completed = [0, 0, 0, 0];
    const seen: string[] = [];
    let lateSession: pg.Client | null = null;
    try {
      const stopAt = Date.now() + 3 * READ_TIMEOUT_MS;
      await Promise.all(
        clients.map(async (c, i) => {
          while (Date.now() < stopAt) {
            const res = await c.query<{ id: number; ssn: string | null }>(masked);
            for (const r of res.rows) seen.push(String(r.ssn));
            completed[i]!++;
          }
        }),
      );
      lateSession = await gw.client(token);
      const late = await lateSession.query<{ ssn: string | null }>(masked);
      for (const r of late.rows) seen.push(String(r.ssn));
    } finally {
      await lock.release();
    }
    expect(completed.every((n) => n > 0)).toBe(true);
    expect(seen.length).toBeGreaterThan(0);
    for (const ssn of real) expect(seen).not.toContain(ssn);
  });
});
