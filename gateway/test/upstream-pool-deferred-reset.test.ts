// The pool's deferred reset against real PostgreSQL (pg/upstream-pool.ts): a connection handed back
// idle is reset by the next checkout in the same write, or on its own when no login takes it; a
// reset that fails there closes the connection and the login gets another.

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UpstreamPool } from '../src/pg/upstream-pool.ts';
import type { UpstreamLease } from '../src/pg/upstream-lease.ts';
import type { UpstreamConnection } from '../src/pg/upstream/connect.ts';
import { query } from '../src/pg/upstream/test-query.ts';
import { decodeDataRow, decodeErrorFields } from '../src/wire/backend.ts';
import { BE } from '../src/wire/message-types.ts';
import { ensureDatabase, TEST_DB } from './support/harness.ts';

const REQUEST = { database: null, applicationName: 'gatehouse:deferred-reset', params: {} };

/** Runs one simple query on a leased connection: its first column's values, or the SQLSTATE of its error. */
async function run(lease: UpstreamLease, sql: string): Promise<{ values: (string | null)[]; sqlstate: string | null }> {
  const frames = await query({ socket: lease.socket, initialBuffer: Buffer.alloc(0) } as unknown as UpstreamConnection, sql);
  const values = frames.filter((f) => f.type === BE.DataRow).map((f) => decodeDataRow(f.body)[0]?.toString('utf8') ?? null);
  const error = frames.find((f) => f.type === BE.ErrorResponse);
  return { values, sqlstate: error ? (decodeErrorFields(error.body)['C'] ?? '?') : null };
}

async function one(lease: UpstreamLease, sql: string): Promise<string | null> {
  const r = await run(lease, sql);
  expect(r.sqlstate, sql).toBeNull();
  return r.values[0] ?? null;
}

describe('upstream pool: the reset owed by a connection handed back idle', () => {
  let url: string;
  let direct: pg.Client;
  let pool: UpstreamPool;
  const logged: string[] = [];

  beforeAll(async () => {
    url = await ensureDatabase(`${TEST_DB}_deferred_reset`);
    direct = new pg.Client({ connectionString: url });
    await direct.connect();
    await direct.query("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gatehouse_pool_probe') THEN CREATE ROLE gatehouse_pool_probe; END IF; END $$");
    pool = new UpstreamPool({
      url,
      role: 'postgres',
      connectTimeoutMs: 5000,
      pool: { mode: 'session', maxConnections: 1, idleTimeoutSeconds: 60, acquireTimeoutMs: 5000 },
      log: (m) => logged.push(m),
    });
  });
  afterAll(async () => {
    await pool?.close();
    await direct?.end();
  });

  const acquire = (): Promise<UpstreamLease> => pool.acquire(REQUEST, new AbortController().signal);

  it('the next checkout, taken at once, resets what the last client left before it sets anything', async () => {
    const a = await acquire();
    const pid = await one(a, 'SELECT pg_backend_pid()');
    await one(a, "SELECT pg_catalog.set_config('DateStyle', 'German', false)");
    await one(a, "SET myapp.secret = 'from-a'");
    await one(a, 'PREPARE leak_stmt AS SELECT 42');
    await one(a, 'CREATE TEMP TABLE leak_temp (secret text)');
    await one(a, 'SELECT pg_advisory_lock(4343)::text');
    await one(a, 'LISTEN leak_channel');
    await one(a, 'SET ROLE gatehouse_pool_probe');
    a.release({ kind: 'idle', leftover: Buffer.alloc(0), txStatus: 'I' });
    // Taken in the same turn: the reset is still owed, and goes with this checkout.
    const b = await acquire();
    expect(await one(b, 'SELECT pg_backend_pid()')).toBe(pid);
    expect(b.parameters.get('DateStyle')).toBe('ISO, MDY');
    expect(b.parameters.get('application_name')).toBe(REQUEST.applicationName);
    const state = await run(
      b,
      `SELECT concat_ws(',',
        (SELECT count(*) FROM pg_prepared_statements),
        (SELECT count(*) FROM pg_class WHERE relname = 'leak_temp'),
        coalesce(current_setting('myapp.secret', true), ''),
        current_setting('DateStyle'),
        (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()),
        (SELECT count(*) FROM pg_listening_channels()),
        current_user, session_user)`,
    );
    expect(state).toEqual({ values: ['0,0,,ISO, MDY,0,0,postgres,postgres'], sqlstate: null });
    b.release({ kind: 'idle', leftover: Buffer.alloc(0), txStatus: 'I' });
  });

  it('a connection no login takes is reset on its own: the session advisory lock its client left is released', async () => {
    const a = await acquire();
    const pid = Number(await one(a, 'SELECT pg_backend_pid()'));
    await one(a, 'SELECT pg_advisory_lock(4344)::text');
    a.release({ kind: 'idle', leftover: Buffer.alloc(0), txStatus: 'I' });
    const held = async (): Promise<number> =>
      (await direct.query("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = 4344 AND pid = $1", [pid])).rows[0].n as number;
    // Polled, no duration asserted: the lock must go while the connection sits in the pool unused.
    let n = await held();
    for (let i = 0; i < 100 && (n > 0 || pool.stats(null).idle === 0); i++) {
      await new Promise((r) => setTimeout(r, 50));
      n = await held();
    }
    expect(n).toBe(0);
    const app = (await direct.query('SELECT application_name FROM pg_stat_activity WHERE pid = $1', [pid])).rows[0]?.application_name;
    expect(app).toBe('gatehouse');
    expect(pool.stats(null)).toEqual({ open: 1, idle: 1, waiting: 0 });
  });

  it('an owed reset that fails closes the connection, and the login gets a new one', async () => {
    const a = await acquire();
    const pid = await one(a, 'SELECT pg_backend_pid()');
    await one(a, 'BEGIN');
    // Handed back as if idle while a transaction block is open: DISCARD ALL fails (25001) at the checkout.
    a.release({ kind: 'idle', leftover: Buffer.alloc(0), txStatus: 'I' });
    const b = await acquire();
    expect(await one(b, 'SELECT pg_backend_pid()')).not.toBe(pid);
    expect(await one(b, "SELECT current_setting('application_name')")).toBe(REQUEST.applicationName);
    expect(logged.some((m) => /DISCARD ALL|25001/.test(m))).toBe(true);
    b.release({ kind: 'idle', leftover: Buffer.alloc(0), txStatus: 'I' });
  });
});
