// A statement the policy decides `approve` is held, never reaching PostgreSQL, until an approver
// answers: node-postgres (simple and extended protocol) and psql, through a real gateway to the real
// PostgreSQL, with real JWTs. Approve runs it (masks still apply), deny is 42501, cancel and
// disconnect withdraw it, a grant lets the same fingerprint through, other sessions go on meanwhile.

import { describe, expect, it } from 'vitest';
import type pg from 'pg';
import { psqlVia } from './support/run-tool.ts';
import { api, pendingRequest, useApprovalGateway } from './support/approvals.ts';
import { sendCancelRequest } from './support/cancel-request.ts';

const fx = useApprovalGateway();

async function phoneOf(id: number): Promise<string> {
  const direct = await import('pg');
  const c = new direct.default.Client({ connectionString: fx.gateway.upstreamUrl });
  await c.connect();
  const r = await c.query('SELECT phone FROM clinical.patients WHERE id = $1', [id]);
  await c.end();
  return r.rows[0].phone as string;
}

function notices(c: pg.Client): string[] {
  const seen: string[] = [];
  c.on('notice', (n) => seen.push(`${n.message} | ${n.hint ?? ''}`));
  return seen;
}

describe('held statements', () => {
  it('runs after approval; the client is told at once, other sessions are not blocked', async () => {
    const agent = await fx.gateway.client(fx.agentToken);
    const seen = notices(agent);
    const other = await fx.gateway.client(fx.agentToken);
    const held = agent.query("/* reason: patient called */ UPDATE clinical.patients SET phone = '555-0101' WHERE id = 1");
    const request = await pendingRequest(fx.adminPort, fx.leadToken, "'555-0101'");
    expect(await phoneOf(1)).not.toBe('555-0101'); // never reached PostgreSQL
    expect(request).toMatchObject({ requester_reason: 'patient called', statement: { literals_shown: true, protocol: 'simple' }, policy: { ids: ['clinical-write-approval'] } });
    // Another session of the same agent goes on while the first waits.
    expect((await other.query('SELECT count(*)::int AS n FROM clinical.visits')).rows[0].n).toBeGreaterThan(0);
    expect(seen.some((n) => n.includes(request.id) && n.includes('/approvals'))).toBe(true);
    const answer = await api(fx.adminPort, `/approvals/api/requests/${request.id}/answer`, fx.leadToken, { verdict: 'approve', comment: 'ok' });
    expect(answer.status).toBe(200);
    expect((await held).rowCount).toBe(1);
    expect(await phoneOf(1)).toBe('555-0101');
    const records = await fx.gateway.auditUntil((rs) => rs.some((r) => r.type === 'outcome' && r.decision_id === request.decision_id));
    const statement = records.find((r) => r.type === 'statement' && r.decision_id === request.decision_id);
    expect(statement).toMatchObject({ decision: 'allow' });
    expect(statement?.type === 'statement' && statement.reason).toContain(`approved in request ${request.id} by lead-1`);
    expect(records.filter((r) => r.type === 'approval' && r.request_id === request.id).map((r) => (r.type === 'approval' ? r.event : ''))).toEqual(['requested', 'answered', 'approved']);
  });

  it('a denial fails with 42501 and the session goes on; the row is unchanged', async () => {
    const agent = await fx.gateway.client(fx.agentToken);
    const before = await phoneOf(2);
    const held = agent.query("UPDATE clinical.patients SET phone = '555-0102' WHERE id = 2").then(
      () => null,
      (e: { code?: string; message: string }) => e,
    );
    const request = await pendingRequest(fx.adminPort, fx.leadToken, "'555-0102'");
    await api(fx.adminPort, `/approvals/api/requests/${request.id}/answer`, fx.leadToken, { verdict: 'deny', comment: 'wrong patient' });
    const error = await held;
    expect(error?.code).toBe('42501');
    expect(error?.message).toContain('wrong patient');
    expect(await phoneOf(2)).toBe(before);
    expect((await agent.query('SELECT 1 AS ok')).rows[0].ok).toBe(1);
  });

  it('extended protocol: the Execute is held with its bound parameters, then runs', async () => {
    const agent = await fx.gateway.client(fx.agentToken);
    const held = agent.query('UPDATE clinical.patients SET phone = $1 WHERE id = $2', ['555-0103', 3]);
    const request = await pendingRequest(fx.adminPort, fx.leadToken, 'SET phone = $1');
    expect(request.statement).toMatchObject({ protocol: 'extended', parameters: ['555-0103', '3'] });
    expect(await phoneOf(3)).not.toBe('555-0103');
    await api(fx.adminPort, `/approvals/api/requests/${request.id}/answer`, fx.leadToken, { verdict: 'approve' });
    expect((await held).rowCount).toBe(1);
    expect(await phoneOf(3)).toBe('555-0103');
  });

  it('masking still applies: a write that also reads masked columns is refused as under any mask, before anyone is asked', async () => {
    const agent = await fx.gateway.client(fx.agentToken);
    const error = await agent
      .query('WITH u AS (UPDATE clinical.patients SET phone = $1 WHERE id = $2 RETURNING id) SELECT p.id, p.ssn FROM clinical.patients p JOIN u ON u.id = p.id', ['555-0199', 3])
      .then(() => null, (e: { code?: string }) => e);
    expect(error?.code).toBe('42501'); // the write's target is read masked (enforce/write-target.ts)
    expect((await api(fx.adminPort, '/approvals/api/requests?state=pending', fx.leadToken)).body.requests.filter((r: { statement: { text: string } }) => r.statement.text.includes('555-0199'))).toEqual([]);
    // A write's WHERE and RETURNING over masked columns of its own table: refused at once, never held.
    for (const sql of ["UPDATE clinical.patients SET phone = '555-0198' WHERE ssn = 'x'", "UPDATE clinical.patients SET phone = '555-0198' WHERE id = 3 RETURNING ssn", "DELETE FROM clinical.patients WHERE id = -1 RETURNING *"]) {
      const refused = await agent.query(sql).then(() => null, (e: { code?: string; message: string }) => e);
      expect(refused?.code, sql).toBe('42501');
      expect(refused?.message, sql).toMatch(/of a table you read masked/);
    }
    expect((await agent.query('SELECT 1 AS ok')).rows[0].ok).toBe(1);
  });

  it('a CancelRequest ends the wait with 57014 and withdraws the request; the session goes on', async () => {
    const agent = await fx.gateway.client(fx.agentToken);
    const held = agent.query("UPDATE clinical.patients SET phone = '555-0104' WHERE id = 4").then(
      () => null,
      (e: { code?: string }) => e,
    );
    const request = await pendingRequest(fx.adminPort, fx.leadToken, "'555-0104'");
    const keys = agent as unknown as { processID: number; secretKey: number };
    await sendCancelRequest(fx.gateway.port, keys.processID, keys.secretKey);
    expect((await held)?.code).toBe('57014');
    for (let i = 0; i < 200 && (await api(fx.adminPort, `/approvals/api/requests/${request.id}`, fx.leadToken)).body.state === 'pending'; i++) await new Promise((r) => setTimeout(r, 25));
    expect((await api(fx.adminPort, `/approvals/api/requests/${request.id}`, fx.leadToken)).body).toMatchObject({ state: 'withdrawn', closed_reason: 'the client cancelled the statement' });
    expect((await agent.query('SELECT 1 AS ok')).rows[0].ok).toBe(1);
    expect((await api(fx.adminPort, `/approvals/api/requests/${request.id}/answer`, fx.leadToken, { verdict: 'approve' })).status).toBe(409);
  });

  it('a disconnect withdraws the request', async () => {
    const agent = await fx.gateway.client(fx.agentToken);
    void agent.query("UPDATE clinical.patients SET phone = '555-0105' WHERE id = 5").catch(() => undefined);
    const request = await pendingRequest(fx.adminPort, fx.leadToken, "'555-0105'");
    (agent as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    let state = 'pending';
    for (let i = 0; i < 200 && state === 'pending'; i++) {
      state = (await api(fx.adminPort, `/approvals/api/requests/${request.id}`, fx.leadToken)).body.state;
      if (state === 'pending') await new Promise((r) => setTimeout(r, 25));
    }
    expect(state).toBe('withdrawn');
  });

  it('a grant lets the same statement fingerprint through, for that identity only, until revoked', async () => {
    const agent = await fx.gateway.client(fx.agentToken);
    const held = agent.query("UPDATE clinical.patients SET phone = '555-0106' WHERE id = 6");
    const request = await pendingRequest(fx.adminPort, fx.leadToken, "'555-0106'");
    const answer = await api(fx.adminPort, `/approvals/api/requests/${request.id}/answer`, fx.leadToken, { verdict: 'approve', grant_minutes: 10 });
    await held;
    const seen = notices(agent);
    // Same shape, other literals: no new request, no notice.
    expect((await agent.query("UPDATE clinical.patients SET phone = '555-0107' WHERE id = 7")).rowCount).toBe(1);
    expect(seen).toEqual([]);
    // Another agent with the same statement still waits.
    const other = await fx.gateway.client(await fx.gateway.token('agent-8', ['agents']));
    const otherHeld = other.query("UPDATE clinical.patients SET phone = '555-0108' WHERE id = 8").then(() => null, (e: { code?: string }) => e);
    const otherRequest = await pendingRequest(fx.adminPort, fx.leadToken, "'555-0108'");
    await api(fx.adminPort, `/approvals/api/requests/${otherRequest.id}/answer`, fx.leadToken, { verdict: 'deny' });
    expect((await otherHeld)?.code).toBe('42501');
    // Revoked: the next one waits again.
    await api(fx.adminPort, `/approvals/api/grants/${answer.body.grant_id}/revoke`, fx.leadToken, {});
    const again = agent.query("UPDATE clinical.patients SET phone = '555-0109' WHERE id = 9").then(() => null, (e: { code?: string }) => e);
    const againRequest = await pendingRequest(fx.adminPort, fx.leadToken, "'555-0109'");
    await api(fx.adminPort, `/approvals/api/requests/${againRequest.id}/answer`, fx.leadToken, { verdict: 'deny' });
    expect((await again)?.code).toBe('42501');
  });

  it('psql prints the notice at once and gets its result after approval', async () => {
    const run = psqlVia(fx.gateway.port, fx.agentToken, ['-c', "UPDATE clinical.patients SET phone = '555-0110' WHERE id = 10"], { killAfterMs: 60_000 });
    const request = await pendingRequest(fx.adminPort, fx.leadToken, "'555-0110'");
    await api(fx.adminPort, `/approvals/api/requests/${request.id}/answer`, fx.leadToken, { verdict: 'approve' });
    const result = await run;
    expect(result.code).toBe(0);
    expect(result.stdout.toString()).toContain('UPDATE 1');
    expect(result.stderr).toContain(`NOTICE:  Gatehouse is holding this statement for approval: request ${request.id}`);
  });
});
