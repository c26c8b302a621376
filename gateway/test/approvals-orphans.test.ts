// A Gatehouse that stops while it holds a statement: two instances on one PostgreSQL store, the
// second a real `gatehouse serve` child killed with SIGKILL (no chance to withdraw anything). Its
// heartbeat stops, and the live instance withdraws the orphaned request long before its 1 h TTL,
// audits it, and tells the requester when it connects again.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { INSTANCE_STOPPED_REASON } from '../src/approvals/service.ts';
import { DEV_ALGORITHM, ensureDevKeys } from '../src/auth/dev-keys.ts';
import { api, pendingRequest } from './support/approvals.ts';
import { REPO_ROOT, startTestGateway, type TestGateway } from './support/harness.ts';

const GATEHOUSE_BIN = join(REPO_ROOT, 'gateway', 'bin', 'gatehouse.js');
/** Safety nets for a noisy machine: a test fails at these instead of hanging (no duration is asserted). */
const START_TIMEOUT_MS = 150_000;
const CONDITION_TIMEOUT_MS = 60_000;

async function waitFor<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs = CONDITION_TIMEOUT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

let live: TestGateway;
let child: ChildProcessWithoutNullStreams | null = null;
let childPort = 0;
let exited: Promise<unknown>;

beforeAll(async () => {
  live = await startTestGateway({ admin: true, approvalsStore: 'postgres', approvalsSettings: { heartbeat_timeout_s: 2 } });
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-it-orphans-'));
  // The same dev keys as the live instance: one identity provider for both.
  const keys = await ensureDevKeys(live.keyDir);
  const configFile = join(dir, 'gatehouse.yaml');
  writeFileSync(
    configFile,
    stringify({
      listen: { host: '127.0.0.1', port: 0 },
      auth: { issuer: keys.issuer, audience: keys.audience, algorithms: [DEV_ALGORITHM], jwks: { file: keys.jwksPath } },
      upstream: { url: live.upstreamUrl },
      policies: { engine: 'rego', directory: join(REPO_ROOT, 'policies', 'rego'), eval_timeout_ms: 5000 },
      approvals: { store: 'postgres', heartbeat_timeout_s: 2 },
      audit: { file: join(dir, 'audit.ndjson') },
    }),
  );
  child = spawn(process.execPath, [GATEHOUSE_BIN, 'serve', '--config', configFile, '--log-format', 'json'], {
    cwd: REPO_ROOT,
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const log: string[] = [];
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => log.push(chunk));
  child.stdout.resume();
  let done = false;
  exited = new Promise((resolve) => child!.on('exit', () => resolve((done = true))));
  childPort = await waitFor(
    'gatehouse serve to log its port',
    () => {
      if (done) throw new Error(`gatehouse serve exited during startup:\n${log.join('')}`);
      const m = /listening on 127\.0\.0\.1:(\d+) /.exec(log.join(''));
      return m?.[1] === undefined ? undefined : Number(m[1]);
    },
    START_TIMEOUT_MS,
  );
}, START_TIMEOUT_MS + 30_000);

afterAll(async () => {
  child?.kill('SIGKILL');
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

    child!.kill('SIGKILL');
    await exited;
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
