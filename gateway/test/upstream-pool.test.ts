// Session pooling of upstream connections (upstream.pool): with max_connections 1 every client
// shares one backend, and nothing of one client's session state reaches the next; a full pool
// queues logins and refuses with 53300 after acquire_timeout_ms; cancel keys map to the backend
// serving the client now, and a stale one cancels nothing; a terminated idle backend is never handed out.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendCancelRequest } from './support/cancel-request.ts';
import { ensureDatabase, startTestGateway, TEST_DB, type TestGateway } from './support/harness.ts';
import { runTool } from './support/run-tool.ts';
import { serialize, WireClient, type Message } from './support/wire-client.ts';

/** Everything allowed: the tests probe session state, not policy. */
const ALLOW_ALL = `package gatehouse
verdict := {"deny": set(), "approve": set(), "mask": set(), "allow": {{"id": "pool-test", "reason": "pool test", "on": "execute"}}}
`;

function allowAllDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-pool-policy-'));
  writeFileSync(join(dir, 'allow.rego'), ALLOW_ALL);
  return dir;
}

function keysOf(c: pg.Client): { processID: number; secretKey: number } {
  const k = c as unknown as { processID: number; secretKey: number };
  return { processID: k.processID, secretKey: k.secretKey };
}

async function pidOf(c: pg.Client): Promise<number> {
  return (await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
}

describe('upstream pool, max_connections 1', () => {
  let t: TestGateway;
  let direct: pg.Client;
  let token: string;
  const connect = async (extra: Partial<pg.ClientConfig> = {}): Promise<pg.Client> => {
    const c = new pg.Client({ host: '127.0.0.1', port: t.port, user: 'agent', database: 'postgres', password: token, ...extra });
    c.on('error', () => undefined);
    await c.connect();
    return c;
  };

  beforeAll(async () => {
    t = await startTestGateway({ policiesDir: allowAllDir(), pool: { max_connections: 1, acquire_timeout_ms: 1500 } });
    direct = new pg.Client({ connectionString: t.upstreamUrl });
    await direct.connect();
    await direct.query('DROP TABLE IF EXISTS public.pool_leak_tx');
    await direct.query("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gatehouse_pool_probe') THEN CREATE ROLE gatehouse_pool_probe; END IF; END $$");
    token = await t.token('agent-pool', ['agents']);
  });
  afterAll(async () => {
    await direct?.end();
    await t?.close();
  });

  it('clients one after another share the one backend', async () => {
    const a = await connect();
    const pidA = await pidOf(a);
    await a.end();
    const b = await connect();
    expect(await pidOf(b)).toBe(pidA);
    await b.end();
  });

  it('nothing of one client session reaches the next: statements, temp tables, settings, role, locks, LISTEN, open transaction', async () => {
    const a = await connect({ application_name: 'first-client' });
    const pidA = await pidOf(a);
    expect((await direct.query('SELECT application_name FROM pg_stat_activity WHERE pid = $1', [pidA])).rows[0].application_name).toBe('gatehouse:first-client');
    await a.query('PREPARE leak_stmt AS SELECT 42');
    await a.query({ name: 'leak_protocol', text: 'SELECT 43 AS n' });
    await a.query('CREATE TEMP TABLE leak_temp (secret text)');
    await a.query("INSERT INTO leak_temp VALUES ('from-a')");
    await a.query("SET work_mem = '7MB'");
    await a.query("SET myapp.secret = 'from-a'");
    await a.query("SET DateStyle = 'German'");
    await a.query('SELECT pg_advisory_lock(4242)');
    await a.query('LISTEN leak_channel');
    await a.query('SET ROLE gatehouse_pool_probe');
    expect((await a.query('SELECT current_user AS u')).rows[0].u).toBe('gatehouse_pool_probe');
    await a.query('RESET ROLE');
    await a.query('BEGIN');
    await a.query('CREATE TABLE public.pool_leak_tx (x int)');
    await a.end();

    const b = await connect();
    expect(await pidOf(b)).toBe(pidA);
    const notified: string[] = [];
    b.on('notification', (n) => notified.push(n.channel));
    await direct.query('NOTIFY leak_channel');
    const state = await b.query(`SELECT
        (SELECT count(*)::int FROM pg_prepared_statements) AS prepared,
        (SELECT count(*)::int FROM pg_class WHERE relname = 'leak_temp') AS temp_tables,
        current_setting('work_mem') AS work_mem,
        coalesce(current_setting('myapp.secret', true), '') AS custom,
        current_setting('DateStyle') AS datestyle,
        (SELECT count(*)::int FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()) AS advisory,
        (SELECT count(*)::int FROM pg_listening_channels()) AS listening,
        current_user AS cu, session_user AS su,
        to_regclass('public.pool_leak_tx') IS NULL AS tx_rolled_back`);
    const defaults = (await direct.query("SELECT current_setting('work_mem') AS w")).rows[0].w as string;
    expect(state.rows[0]).toEqual({
      prepared: 0,
      temp_tables: 0,
      work_mem: defaults,
      custom: '',
      datestyle: 'ISO, MDY',
      advisory: 0,
      listening: 0,
      cu: 'postgres',
      su: 'postgres',
      tx_rolled_back: true,
    });
    await b.query('SELECT 1');
    expect(notified).toEqual([]);
    expect((await direct.query('SELECT application_name FROM pg_stat_activity WHERE pid = $1', [pidA])).rows[0].application_name).toBe('gatehouse');
    await b.end();
  });

  it('the next client gets ParameterStatus of the reset session, not of the one before', async () => {
    const a = await connect();
    await a.query("SET DateStyle = 'German'");
    await a.query("SET TimeZone = 'Asia/Tokyo'");
    await a.end();
    const w = await WireClient.open(t.port);
    w.send(serialize.startup({ user: 'agent', database: 'postgres' }));
    expect((await w.next()).name).toBe('authenticationCleartextPassword');
    w.send(serialize.password(token));
    const [hello] = await w.untilReady(1);
    const params = new Map((hello ?? []).filter((m: Message) => m.name === 'parameterStatus').map((m) => [m.parameterName, m.parameterValue]));
    const server = (await direct.query("SELECT current_setting('TimeZone') AS tz")).rows[0].tz as string;
    expect(params.get('DateStyle')).toBe('ISO, MDY');
    expect(params.get('TimeZone')).toBe(server);
    expect(params.get('standard_conforming_strings')).toBe('on');
    w.close();
  });

  /** Logs in over the raw protocol with extra startup parameters; returns the client and its hello messages. */
  async function rawLogin(params: Record<string, string>): Promise<{ w: WireClient; hello: Message[] }> {
    const w = await WireClient.open(t.port);
    w.send(serialize.startup({ user: 'agent', database: 'postgres', ...params }));
    expect((await w.next()).name).toBe('authenticationCleartextPassword');
    w.send(serialize.password(token));
    const hello: Message[] = [];
    for (;;) {
      const m = await w.next();
      hello.push(m);
      if (m.name === 'readyForQuery' || m.name === 'error') return { w, hello };
    }
  }

  it("a client's startup parameters apply to its session only, and one the server refuses ends the login with 22023", async () => {
    // (pg-protocol's startup message always ends with client_encoding UTF8, so that one is not tried here.)
    const latin = await rawLogin({ TimeZone: 'Asia/Tokyo', DateStyle: 'SQL, DMY' });
    expect(latin.hello.find((m) => m.name === 'parameterStatus' && m.parameterName === 'TimeZone')?.parameterValue).toBe('Asia/Tokyo');
    latin.w.send(serialize.query("SELECT current_setting('DateStyle') AS d"));
    const [answer] = await latin.w.untilReady(1);
    expect((answer ?? []).filter((m) => m.name === 'dataRow').map((m) => m.fields)).toEqual([['SQL, DMY']]);
    latin.w.close();

    const refused = await rawLogin({ DateStyle: 'no-such-style' });
    expect(refused.hello.filter((m) => m.name === 'error').map((m) => m.code)).toEqual(['22023']);
    refused.w.close();

    const next = await rawLogin({});
    const params = new Map(next.hello.filter((m) => m.name === 'parameterStatus').map((m) => [m.parameterName, m.parameterValue]));
    expect(params.get('TimeZone')).not.toBe('Asia/Tokyo');
    expect(params.get('DateStyle')).toBe('ISO, MDY');
    next.w.close();
  });

  it("names resolve against the pooled session's own search_path from the first statement: the client's startup one, never the previous client's", async () => {
    await direct.query('CREATE SCHEMA IF NOT EXISTS pool_path');
    await direct.query('CREATE TABLE IF NOT EXISTS pool_path.pool_path_t (n int)');
    const tablesRead = async (sql: string): Promise<string[]> => {
      const mine = (rs: ReturnType<typeof t.audit>) => rs.filter((r) => r.type === 'statement' && r.statement === sql);
      const records = await t.auditUntil((rs) => mine(rs).length > 0);
      const last = mine(records).at(-1);
      return last?.type === 'statement' ? (last.input?.statement.tables_read ?? []) : [];
    };
    const first = await rawLogin({ search_path: 'pool_path' });
    first.w.send(serialize.query('SELECT count(*) AS first_client FROM pool_path_t'));
    first.w.send(serialize.query('SET search_path = pg_catalog'));
    await first.w.untilReady(2);
    first.w.close();
    expect(await tablesRead('SELECT count(*) AS first_client FROM pool_path_t')).toEqual(['pool_path.pool_path_t']);

    const next = await rawLogin({});
    next.w.send(serialize.query('SELECT count(*) AS next_client FROM pool_path_t'));
    const [answer] = await next.w.untilReady(1);
    expect((answer ?? []).filter((m) => m.name === 'error').map((m) => m.code)).toEqual(['42P01']); // not in public
    next.w.close();
    expect(await tablesRead('SELECT count(*) AS next_client FROM pool_path_t')).toEqual(['public.pool_path_t']);
  });

  it('a full pool queues the next login until a connection comes back, and other sessions keep working', async () => {
    const a = await connect();
    const waiting = connect();
    let settled = false;
    void waiting.then(() => (settled = true), () => (settled = true));
    expect((await a.query('SELECT 7 AS n')).rows).toEqual([{ n: 7 }]);
    expect(settled).toBe(false);
    await a.end();
    const b = await waiting;
    expect((await b.query('SELECT 8 AS n')).rows).toEqual([{ n: 8 }]);
    await b.end();
  });

  it('a login whose client goes away stops waiting at once, and the connection goes to the next one in line', async () => {
    const a = await connect();
    const w = await WireClient.open(t.port);
    w.send(serialize.startup({ user: 'agent', database: 'postgres', application_name: 'leaves-while-waiting' }));
    expect((await w.next()).name).toBe('authenticationCleartextPassword');
    w.send(serialize.password(token));
    await new Promise((r) => setTimeout(r, 100)); // in line behind a
    w.close();
    // Its session record is written when it stops waiting, while a still holds the connection.
    const records = await t.auditUntil((rs) =>
      rs.some((r) => r.type === 'session' && r.application_name === 'leaves-while-waiting' && /went away while waiting/.test(String(r.reason ?? ''))),
    );
    const ended = records.flatMap((r) => (r.type === 'session' && r.application_name === 'leaves-while-waiting' ? [`${r.event}: ${r.reason}`] : []));
    expect(ended).toHaveLength(1);
    expect(ended[0]).toMatch(/^closed: .*the client went away while waiting$/);
    expect((await a.query('SELECT 11 AS n')).rows).toEqual([{ n: 11 }]);
    await a.end();
    const b = await connect();
    expect((await b.query('SELECT 12 AS n')).rows).toEqual([{ n: 12 }]);
    await b.end();
  });

  it('a query a waiting login sends ahead is kept and answered once the connection comes', async () => {
    const a = await connect();
    const w = await WireClient.open(t.port);
    w.send(serialize.startup({ user: 'agent', database: 'postgres' }));
    expect((await w.next()).name).toBe('authenticationCleartextPassword');
    w.send(serialize.password(token));
    await new Promise((r) => setTimeout(r, 100)); // in line behind a
    w.send(serialize.query('SELECT 14 AS n')); // read while the login waits
    await new Promise((r) => setTimeout(r, 100));
    await a.end();
    const [hello, answer] = await w.untilReady(2);
    expect(hello!.map((m) => m.name)).toContain('backendKeyData');
    expect(answer!.filter((m) => m.name === 'dataRow').map((m) => (m as unknown as { fields: unknown[] }).fields)).toEqual([['14']]);
    w.close();
  });

  it('a login that waits longer than acquire_timeout_ms is refused with 53300', async () => {
    const a = await connect();
    const code = await connect().then(
      async (c) => {
        await c.end();
        return null;
      },
      (e: { code?: string }) => e.code ?? 'no-sqlstate',
    );
    expect(code).toBe('53300');
    expect((await a.query('SELECT 9 AS n')).rows).toEqual([{ n: 9 }]);
    await a.end();
  });

  it('a cancel reaches the backend serving the client; a stale cancel of an earlier client cancels nothing', async () => {
    const a = await connect();
    const keysA = keysOf(a);
    await a.end();
    const b = await connect();
    const keysB = keysOf(b);
    expect(keysB).not.toEqual(keysA);
    const running = b.query("SELECT pg_sleep(1.5), 'done' AS stale_cancel_marker").then(
      (r) => r.rows[0].stale_cancel_marker as string,
      (e: { code?: string }) => e.code ?? 'no-sqlstate',
    );
    for (;;) {
      const r = await direct.query("SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%stale_cancel_marker%' AND pid <> pg_backend_pid()");
      if (r.rows.length > 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await sendCancelRequest(t.port, keysA.processID, keysA.secretKey);
    expect(await running).toBe('done');
    const again = b.query("SELECT pg_sleep(30), 'x' AS live_cancel_marker").then(
      () => null,
      (e: { code?: string }) => e.code ?? 'no-sqlstate',
    );
    for (;;) {
      const r = await direct.query("SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%live_cancel_marker%' AND pid <> pg_backend_pid()");
      if (r.rows.length > 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await sendCancelRequest(t.port, keysB.processID, keysB.secretKey);
    expect(await again).toBe('57014');
    await b.end();
  });

  it('a pooled backend terminated while idle is not handed out', async () => {
    const a = await connect();
    const pidA = await pidOf(a);
    await a.end();
    await direct.query('SELECT pg_terminate_backend($1)', [pidA]);
    const b = await connect();
    const pidB = await pidOf(b);
    expect(pidB).not.toBe(pidA);
    expect((await b.query('SELECT 10 AS n')).rows).toEqual([{ n: 10 }]);
    await b.end();
  });

  it('a client that leaves inside a transaction block does not pass it on, and one that leaves mid-statement is not reused', async () => {
    const a = await connect();
    const pidA = await pidOf(a);
    void a.query('SELECT pg_sleep(30)').catch(() => undefined);
    await new Promise((r) => setTimeout(r, 200));
    (a as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    const b = await connect();
    expect(await pidOf(b)).not.toBe(pidA);
    await b.end();
  });
});

describe('upstream pool, max_connections 2, 200 short sessions', () => {
  let t: TestGateway;
  let direct: pg.Client;

  beforeAll(async () => {
    t = await startTestGateway({ policiesDir: allowAllDir(), pool: { max_connections: 2, acquire_timeout_ms: 10000 } });
    direct = new pg.Client({ connectionString: t.upstreamUrl });
    await direct.connect();
  });
  afterAll(async () => {
    await direct?.end();
    await t?.close();
  });

  it('serves 200 sequential connects on two workers with at most two backends', async () => {
    const token = await t.token('agent-pool-many', ['agents']);
    const pids = new Set<number>();
    let maxBackends = 0;
    const database = new URL(t.upstreamUrl).pathname.slice(1);
    // Backends of gateways started before this test (still exiting) are not this pool's.
    const before = (await direct.query('SELECT coalesce(array_agg(pid), ARRAY[]::int[]) AS p FROM pg_stat_activity')).rows[0].p as number[];
    const worker = async (): Promise<void> => {
      for (let i = 0; i < 100; i++) {
        const c = new pg.Client({ host: '127.0.0.1', port: t.port, user: 'agent', database: 'postgres', password: token });
        await c.connect();
        pids.add(await pidOf(c));
        if (i % 10 === 0) {
          const n = await direct.query(
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND (application_name = 'gatehouse' OR application_name LIKE 'gatehouse:%') AND NOT (pid = ANY($2::int[]))",
            [database, before],
          );
          maxBackends = Math.max(maxBackends, n.rows[0].n as number);
        }
        await c.end();
      }
    };
    await Promise.all([worker(), worker()]);
    expect(pids.size).toBeLessThanOrEqual(2);
    expect(pids.size).toBeGreaterThanOrEqual(1);
    expect(maxBackends).toBeLessThanOrEqual(2);
    expect(maxBackends).toBeGreaterThanOrEqual(1);
  });
});

describe('pgbench -C through the pool', () => {
  let t: TestGateway;
  beforeAll(async () => {
    const url = await ensureDatabase(`${TEST_DB}_poolbench`);
    const init = await runTool('/usr/bin/pgbench', ['-i', '-s', '1', '-q', url]);
    expect(init.code, init.stderr).toBe(0);
    t = await startTestGateway({ upstreamUrl: url, pool: { max_connections: 2, acquire_timeout_ms: 10000 }, onInfo: (m) => { if (process.env['POOL_DEBUG']) console.log(m); } });
  });
  afterAll(async () => t?.close());

  // One thread per client: pgbench connects synchronously, so a thread blocked waiting for the pool
  // would stall the other clients of its thread, whose connections it holds (any session pool).
  it('-C -S: every transaction on a new client connection succeeds', async () => {
    const token = await t.token('bench-runner', ['bench']);
    const r = await runTool(
      '/usr/bin/pgbench',
      ['-C', '-S', '-n', '-M', 'simple', '-t', '50', '-c', '4', '-j', '4', '-h', '127.0.0.1', '-p', String(t.port), '-U', 'agent', 'postgres'],
      { env: { PGPASSWORD: token, PGSSLMODE: 'disable' } },
    );
    const stdout = r.stdout.toString('utf8');
    expect(r.code, r.stderr + stdout).toBe(0);
    expect(stdout).toContain('number of transactions actually processed: 200/200');
  });
});
