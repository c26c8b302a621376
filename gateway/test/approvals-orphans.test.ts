// A Gatehouse that stops while it holds a statement: two instances on one PostgreSQL store, the
// second a real `gatehouse serve` child killed with SIGKILL (no chance to withdraw anything). Its
// heartbeat stops, and the live instance withdraws the orphaned request long before its 1 h TTL,
// audits it, and tells the requester when it connects again.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INSTANCE_STOPPED_REASON } from '../src/approvals/service.ts';
import { api, pendingRequest } from './support/approvals.ts';
import { writeTestConfig } from './support/gateway-config.ts';
import { REPO_ROOT, startTestGateway, type TestGateway } from './support/harness.ts';
import { listeningPort, SERVE_START_TIMEOUT_MS, spawnServe, type ServeProcess } from './support/serve-process.ts';
import { waitFor } from './support/wait-for.ts';

let live: TestGateway;
let child: ServeProcess | null = null;
let childPort = 0;

beforeAll(async () => {
  live = await startTestGateway({ admin: true, approvalsStore: 'postgres', approvalsSettings: { heartbeat_timeout_s: 2 } });
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-it-orphans-'));
  // The same dev keys as the live instance: one identity provider for both.
  const configFile = await writeTestConfig(
    dir,
    {
      upstream: { url: live.upstreamUrl },
      policies: { engine: 'rego', directory: join(REPO_ROOT, 'policies', 'rego'), eval_timeout_ms: 5000 },
      approvals: { store: 'postgres', heartbeat_timeout_s: 2 },
      audit: { file: join(dir, 'audit.ndjson') },
    },
    live.keyDir,
  );
  child = spawnServe(configFile);
  childPort = await listeningPort(child);
}, SERVE_START_TIMEOUT_MS + 30_000);

afterAll(async () => {
  child?.child.kill('SIGKILL');
  await live?.close();
});

describe('a request whose Gatehouse stopped', () => {
  it('is withdrawn by a live instance once the stopped one\'s heartbeat goes stale, not at its TTL, and the requester is told on reconnect', { timeout: 180_000 }, async () => {
    const agentToken = await live.token('orphan-agent', ['agents']);
    const lead = await live.token('orphan-lead', ['clinical-leads']);
    const agent = new pg.Client({ host: '127.0.0.1', port: childPort, user: 'agent', database: 'postgres', password: agentToken });
    agent.on('error', () => undefined);
    await agent.connect();
    const held = agent.query("UPDATE clinical.patients SET phone = '555-1401' WHERE id = 59").then(() => 'ran', () => 'ended');
    const request = await pendingRequest(live.gw.adminPort!, lead, "'555-1401'");
    expect(request.requirements.ttl_seconds).toBe(3600);
    // While the holding instance beats, sweeps of the live one leave the request alone (more than one timeout passes).
    await new Promise((r) => setTimeout(r, 3000));
    await live.gw.approvals.sweeper.sweep();
    expect((await api(live.gw.adminPort!, `/approvals/api/requests/${request.id}`, lead)).body.state).toBe('pending');

    child!.child.kill('SIGKILL');
    await child!.exited;
    expect(await held).toBe('ended');
    const closed = await waitFor('the orphaned request to be closed', async () => {
      const { body } = await api(live.gw.adminPort!, `/approvals/api/requests/${request.id}`, lead);
      return body.state === 'pending' ? undefined : body;
    });
    expect([closed.state, closed.closed_reason]).toEqual(['withdrawn', INSTANCE_STOPPED_REASON]);
    expect(Date.parse(closed.closed_at)).toBeLessThan(Date.parse(closed.expires_at));
    const records = await live.auditUntil((rs) => rs.some((r) => r.type === 'approval' && r.request_id === request.id));
    expect(records.filter((r) => r.type === 'approval' && r.request_id === request.id).map((r) => (r.type === 'approval' ? r.event : ''))).toEqual(['withdrawn']);
    // An approval now is refused: nothing waits for it.
    expect((await api(live.gw.adminPort!, `/approvals/api/requests/${request.id}/answer`, lead, { verdict: 'approve' })).body.code).toBe('not_pending');

    const notices: string[] = [];
    const again = new pg.Client({ host: '127.0.0.1', port: live.port, user: 'agent', database: 'postgres', password: agentToken });
    again.on('notice', (n) => notices.push(n.message ?? ''));
    await again.connect();
    const told = await waitFor('the reconnect notice', () => notices.find((m) => m.includes(request.id)));
    expect(told).toMatch(/withdrawn when the Gatehouse holding it stopped; its statement did not run/);
    await again.end();
  });
});
