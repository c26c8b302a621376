// A write held for approval inside a real client's pipeline (psycopg 3 in libpq pipeline mode: Parse, Bind,
// Describe, Execute per statement, one Sync): it waits with no lock of its own held (another connection's
// LOCK TABLE ... NOWAIT is had during the wait) and runs once approved, the statements around it answered
// as usual. The refusal of interleaved shapes (red-team round 18a, R18a-4; docs/approvals.md, "Locks during
// the wait") must never meet such a client.

import pg from 'pg';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { api, pendingRequest, useApprovalGateway } from './support/approvals.ts';
import { runTool } from './support/run-tool.ts';
import { clientGate, reportOf, runsOk } from './clients/support.ts';

const PYTHON = '/usr/bin/python3';

/** A pipeline: a read, the held write, a read; then a reading of what each returned. */
const PIPELINE = `
import json, os, sys, psycopg
params = dict(host="127.0.0.1", port=int(sys.argv[1]), dbname="postgres", user="agent", password=os.environ["GATEHOUSE_TOKEN"], sslmode="disable", connect_timeout=10)
with psycopg.connect(autocommit=True, **params) as conn:
    with conn.pipeline():
        first = conn.execute("SELECT 1")
        write = conn.execute("UPDATE clinical.patients SET phone = %s WHERE id = 2 /* psycopg-pipeline */", ["555-1830"])
        last = conn.execute("SELECT 3")
    print(json.dumps({"first": first.fetchone()[0], "updated": write.rowcount, "last": last.fetchone()[0]}))
`;

describe('a write held for approval in a psycopg pipeline', () => {
  const gate = clientGate();
  const fx = useApprovalGateway();
  let direct: pg.Client;
  let phone: string;

  beforeAll(async () => {
    await gate.require('psycopg 3 for /usr/bin/python3', () => runsOk(PYTHON, ['-c', 'import psycopg']), 'apt-get install -y python3-psycopg');
    direct = new pg.Client({ connectionString: fx.gateway.upstreamUrl });
    await direct.connect();
    phone = ((await direct.query('SELECT phone FROM clinical.patients WHERE id = 2')).rows[0] as { phone: string }).phone;
  });
  afterAll(async () => {
    await direct?.query('UPDATE clinical.patients SET phone = $1 WHERE id = 2', [phone]);
    await direct?.end();
  });

  gate.it('waits holding no lock (LOCK TABLE ... NOWAIT had from another connection), runs once approved, the reads around it answered', async () => {
    const run = runTool(PYTHON, ['-c', PIPELINE, String(fx.gateway.port)], { env: { GATEHOUSE_TOKEN: fx.agentToken }, killAfterMs: 90_000 });
    const request = await pendingRequest(fx.adminPort, fx.leadToken, 'psycopg-pipeline');
    const lock = await direct.query('BEGIN; LOCK TABLE clinical.patients IN ACCESS EXCLUSIVE MODE NOWAIT; ROLLBACK').then(
      () => null,
      (e: { code?: string }) => e.code ?? 'no code',
    );
    await direct.query('ROLLBACK').catch(() => undefined);
    expect((await api(fx.adminPort, `/approvals/api/requests/${request.id}/answer`, fx.leadToken, { verdict: 'approve' })).status).toBe(200);
    const report = reportOf<{ first: number; updated: number; last: number }>('psycopg', await run);
    expect(lock).toBeNull();
    expect(report).toEqual({ first: 1, updated: 1, last: 3 });
    expect(((await direct.query('SELECT phone FROM clinical.patients WHERE id = 2')).rows[0] as { phone: string }).phone).toBe('555-1830');
  });
});
