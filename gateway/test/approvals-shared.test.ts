// Approvals across instances and over time: two gateways sharing the PostgreSQL store (a statement
// held on one is released by an answer on the other), a request that expires (a 2 s TTL in a copy
// of the Cedar policies) with a clear timeout error, and a held statement inside a transaction block.

import { cpSync, readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, pendingRequest } from './support/approvals.ts';
import { REPO_ROOT, startTestGateway, type TestGateway } from './support/harness.ts';

let a: TestGateway;
let b: TestGateway;
let short: TestGateway;

beforeAll(async () => {
  a = await startTestGateway({ admin: true, approvalsStore: 'postgres' });
  b = await startTestGateway({ admin: true, approvalsStore: 'postgres', upstreamUrl: a.upstreamUrl });
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cedar-ttl-'));
  cpSync(join(REPO_ROOT, 'policies', 'cedar'), dir, { recursive: true });
  const clinical = join(dir, 'clinical.cedar');
  writeFileSync(clinical, readFileSync(clinical, 'utf8').replace('@ttl("1h")', '@ttl("2s")'));
  short = await startTestGateway({ admin: true, engine: 'cedar', policiesDir: dir, upstreamUrl: a.upstreamUrl });
}, 180_000);

afterAll(async () => {
  await Promise.all([a?.close(), b?.close(), short?.close()]);
});

describe('approvals shared and timed', () => {
  it('a statement held on one instance runs when approved on another', async () => {
    const agent = await a.client(await a.token('agent-7', ['agents']));
    const lead = await b.token('lead-1', ['clinical-leads']);
    const held = agent.query("UPDATE clinical.patients SET phone = '555-0201' WHERE id = 21");
    const request = await pendingRequest(b.gw.adminPort!, lead, "'555-0201'");
    expect((await api(b.gw.adminPort!, `/approvals/api/requests/${request.id}/answer`, lead, { verdict: 'approve' })).status).toBe(200);
    expect((await held).rowCount).toBe(1);
  });

  it('inside a transaction block: the held statement runs after approval, and COMMIT keeps it', async () => {
    const agent = await a.client(await a.token('agent-7', ['agents']));
    const lead = await a.token('lead-1', ['clinical-leads']);
    await agent.query('BEGIN');
    const held = agent.query("UPDATE clinical.patients SET phone = '555-0202' WHERE id = 22");
    const request = await pendingRequest(a.gw.adminPort!, lead, "'555-0202'");
    await api(a.gw.adminPort!, `/approvals/api/requests/${request.id}/answer`, lead, { verdict: 'approve' });
    expect((await held).rowCount).toBe(1);
    await agent.query('COMMIT');
    const other = await b.client(await b.token('agent-8', ['agents']));
    expect((await other.query('SELECT count(*)::int AS n FROM clinical.visits')).rows[0].n).toBeGreaterThan(0);
  });

  it('a request nobody answers expires: 57014 with a message saying so, and the session goes on', async () => {
    const agent = await short.client(await short.token('agent-7', ['agents']));
    const error = await agent.query("UPDATE clinical.patients SET phone = '555-0203' WHERE id = 23").then(
      () => null,
      (e: { code?: string; message: string }) => e,
    );
    expect(error?.code).toBe('57014');
    expect(error?.message).toMatch(/approval request [0-9a-f-]+ expired without enough approvals/);
    expect((await agent.query('SELECT 1 AS ok')).rows[0].ok).toBe(1);
    const records = short.audit().filter((r) => r.type === 'approval');
    expect(records.map((r) => (r.type === 'approval' ? r.event : ''))).toEqual(['requested', 'expired']);
  });
});
