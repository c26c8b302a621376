// Query cancellation through Gatehouse: the client's BackendKeyData is Gatehouse's own, a
// CancelRequest with it cancels the running upstream query (57014), and a wrong key cancels nothing.

import { sendCancelRequest } from './support/cancel-request.ts';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './support/harness.ts';

/** node-postgres keeps the BackendKeyData it received, but has no public type for it. */
function keysOf(c: pg.Client): { processID: number; secretKey: number } {
  const k = c as unknown as { processID: number | null; secretKey: number | null };
  if (k.processID === null || k.secretKey === null) throw new Error('client received no BackendKeyData');
  return { processID: k.processID, secretKey: k.secretKey };
}

describe('query cancellation', () => {
  let t: TestGateway;
  let direct: pg.Client;
  let token: string;

  /** Waits until upstream is running `marker` (so a cancel cannot arrive before the query). */
  async function runningUpstream(marker: string): Promise<number> {
    for (;;) {
      const r = await direct.query(
        "SELECT pid FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1 AND pid <> pg_backend_pid()",
        [`%${marker}%`],
      );
      if (r.rows.length > 0) return r.rows[0].pid as number;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  beforeAll(async () => {
    t = await startTestGateway();
    direct = new pg.Client({ connectionString: t.upstreamUrl });
    await direct.connect();
    token = await t.token('agent-cancel', ['agents']);
  });
  afterAll(async () => {
    await direct?.end();
    await t?.close();
  });

  it('gives the client its own backend keys, not the upstream backend pid', async () => {
    const c = await t.client(token);
    const upstreamPid = (await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
    const keys = keysOf(c);
    expect(keys.processID).not.toBe(upstreamPid);
    const seen = await direct.query('SELECT application_name FROM pg_stat_activity WHERE pid = $1', [upstreamPid]);
    expect(seen.rows).toEqual([{ application_name: 'gatehouse' }]);
  });

  it('a CancelRequest with the client keys cancels the running query with 57014, and the session keeps working', async () => {
    const c = await t.client(token);
    const marker = 'cancel_me_ok';
    const running = c.query(`SELECT pg_sleep(30) AS ${marker}`).then(
      () => null,
      (e: { code?: string }) => e.code ?? 'no-sqlstate',
    );
    await runningUpstream(marker);
    const { processID, secretKey } = keysOf(c);
    await sendCancelRequest(t.port, processID, secretKey);
    expect(await running).toBe('57014');
    expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    expect((await c.query('SELECT count(*)::int AS n FROM clinical.visits')).rows[0].n).toBeGreaterThan(0);
  });

  it('a CancelRequest with a wrong secret key or pid cancels nothing', async () => {
    const c = await t.client(token);
    const other = await t.client(token);
    const marker = 'cancel_me_not';
    const running = c.query(`SELECT pg_sleep(2), 'finished' AS ${marker}`);
    const upstreamPid = await runningUpstream(marker);
    const { processID, secretKey } = keysOf(c);
    await sendCancelRequest(t.port, processID, secretKey ^ 1);
    await sendCancelRequest(t.port, processID ^ 1, secretKey);
    await sendCancelRequest(t.port, upstreamPid, secretKey);
    // Another session's own keys are valid, but only for that session.
    const otherKeys = keysOf(other);
    await sendCancelRequest(t.port, otherKeys.processID, otherKeys.secretKey);
    expect((await running).rows[0][marker]).toBe('finished');
    expect((await other.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
  });
});
