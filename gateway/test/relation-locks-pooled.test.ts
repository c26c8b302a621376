// A schema change in a transaction a pooled session holds open (upstream.pool): the session's own
// statements run on the pooled connection whose backend holds the lock, every other session's
// statements naming the table are refused with 55P03 until it commits (red-team round 14, R14-3;
// enforce/table-locks.ts, pg/ddl-locks.ts).
//
// Run: GATEHOUSE_TEST_DB=it_lock15 npx vitest run --project integration gateway/test/relation-locks-pooled.test.ts

import { rmSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schemaAdminsPolicies } from './support/schema-admins-policy.ts';
import { ensureClinicDatabase, startTestGateway, TEST_DB, type TestGateway } from './support/harness.ts';
import { outcomeOrQueued } from './support/outcome-or-queued.ts';
import { attempt as attemptWith, NoticeLog, type Outcome } from './support/attempt.ts';

describe('DDL locks of a pooled session (R14-3)', () => {
  let t: TestGateway;
  let dir: string;
  let direct: pg.Client;
  const notices = new NoticeLog();
  const attempt = (client: pg.Client, sql: string): Promise<Outcome> => attemptWith(notices, client, sql);

  beforeAll(async () => {
    const upstreamUrl = await ensureClinicDatabase(`${TEST_DB}_locks_pool`);
    direct = new pg.Client({ connectionString: upstreamUrl });
    await direct.connect();
    await direct.query(`DROP TABLE IF EXISTS public.pgbench_lk15_t; CREATE TABLE public.pgbench_lk15_t (id integer, v text); INSERT INTO public.pgbench_lk15_t VALUES (1, 'a'), (2, 'b')`);
    dir = schemaAdminsPolicies('rego', 'lk15', 'public.pgbench_lk15_');
    t = await startTestGateway({ policiesDir: dir, upstreamUrl, pool: { max_connections: 3, acquire_timeout_ms: 5000 } });
  });
  afterAll(async () => {
    await direct?.query('DROP TABLE IF EXISTS public.pgbench_lk15_t').catch(() => undefined);
    await direct?.end();
    await t?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("a migration on a pooled connection goes on; other sessions' statements on its table are refused until it commits", async () => {
    // A first session leaves: its pooled connection (and backend pid) is handed to the next one.
    const first = await t.client(await t.token('lk15-first', ['agents', 'bench']));
    const firstPid = (await first.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
    await first.end();
    const admin = await t.client(await t.token('lk15-admin', ['schema-admins']));
    const agent = await t.client(await t.token('lk15-agent', ['agents', 'bench']));
    const adminPid = (await admin.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
    const agentPid = (await agent.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
    expect([adminPid, agentPid]).toContain(firstPid); // one of them holds the pooled connection the first session left
    try {
      await admin.query('BEGIN');
      await admin.query('ALTER TABLE public.pgbench_lk15_t ADD COLUMN w text');
      const holders = await direct.query(`SELECT pid FROM pg_locks WHERE relation = 'public.pgbench_lk15_t'::regclass AND mode = 'AccessExclusiveLock'`);
      expect(holders.rows).toEqual([{ pid: adminPid }]);
      const o = await outcomeOrQueued(() => attempt(agent, 'SELECT v FROM public.pgbench_lk15_t ORDER BY id'), direct, 'public.pgbench_lk15_t');
      expect(o.code).toBe('55P03');
      expect(o.error).toContain('public.pgbench_lk15_t');
      // The migration's own next statements, on the table it holds, run on its pooled connection.
      // (Columns it added are not in the snapshot until it commits: the statements name the old ones.)
      const own = await attempt(admin, `UPDATE public.pgbench_lk15_t SET v = v || '!' WHERE id > 0`);
      expect(own.code, own.error ?? '').toBeNull();
      expect((await attempt(admin, 'SELECT v FROM public.pgbench_lk15_t ORDER BY id')).rows).toEqual([{ v: 'a!' }, { v: 'b!' }]);
      await admin.query('COMMIT');
      let after = await attempt(agent, 'SELECT v FROM public.pgbench_lk15_t ORDER BY id');
      for (let i = 0; i < 100 && after.code === '55P03'; i++) {
        await new Promise((r) => setTimeout(r, 100));
        after = await attempt(agent, 'SELECT v FROM public.pgbench_lk15_t ORDER BY id');
      }
      expect(after.code).toBeNull();
      expect(after.rows).toEqual([{ v: 'a!' }, { v: 'b!' }]);
    } finally {
      await admin.query('ROLLBACK').catch(() => undefined);
      await admin.end();
      await agent.end();
    }
  });
});
