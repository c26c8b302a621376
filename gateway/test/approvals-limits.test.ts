// Caps on pending approval requests and the inbox under a flood, on the PostgreSQL store shared by
// two gateways: a query string needing more requests than its session may have pending is refused
// with 53400 before any opens; an identity's pending requests are capped over all its sessions on
// both instances; and requests another approver group answers cannot push a request out of this
// group's inbox (the list is filtered in SQL before it keeps the newest).

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { heldUpdate } from '../src/approvals/test-fixtures.ts';
import { api, pendingRequest } from './support/approvals.ts';
import { startTestGateway, type TestGateway } from './support/harness.ts';

let a: TestGateway;
let b: TestGateway;
let direct: pg.Client;
const limits = { max_pending_per_session: 3, max_pending_per_identity: 4 };

beforeAll(async () => {
  a = await startTestGateway({ admin: true, approvalsStore: 'postgres', approvalsSettings: limits });
  b = await startTestGateway({ admin: true, approvalsStore: 'postgres', approvalsSettings: limits, upstreamUrl: a.upstreamUrl });
  direct = new pg.Client({ connectionString: a.upstreamUrl });
  await direct.connect();
}, 180_000);

afterAll(async () => {
  await direct?.end();
  await Promise.all([a?.close(), b?.close()]);
});

const update = (phone: string, id = 58): string => `UPDATE clinical.patients SET phone = '${phone}' WHERE id = ${id}`;
const codeOf = (p: Promise<unknown>): Promise<string | null> => p.then(() => null, (e: { code?: string }) => e.code ?? 'error');

async function pendingOf(gw: TestGateway, token: string, subject: string): Promise<Array<{ id: string }>> {
  const { body } = await api(gw.gw.adminPort!, '/approvals/api/requests?state=pending', token);
  return (body.requests as Array<{ id: string; requester: { subject: string } }>).filter((r) => r.requester.subject === subject);
}

describe('pending requests are capped, and a flood hides nothing', () => {
  it('a query string needing more requests than the session cap is refused with 53400, and none opens', async () => {
    const agent = await a.client(await a.token('limits-agent-1', ['agents']));
    const lead = await a.token('limits-lead', ['clinical-leads']);
    const before = (await direct.query('SELECT phone FROM clinical.patients WHERE id = 58')).rows[0].phone;
    const error = await agent.query([update('555-1101'), update('555-1102'), update('555-1103'), update('555-1104')].join(';')).then(
      () => null,
      (e: { code?: string; message: string }) => e,
    );
    expect(error?.code).toBe('53400');
    expect(error?.message).toMatch(/max_pending_per_session allows 3/);
    expect(await pendingOf(a, lead, 'limits-agent-1')).toEqual([]);
    expect((await direct.query('SELECT phone FROM clinical.patients WHERE id = 58')).rows[0].phone).toBe(before);
    expect((await agent.query('SELECT 1 AS ok')).rows[0].ok).toBe(1);
  });

  it('an identity is capped over all its sessions on both instances; a closed request frees its place', async () => {
    // Each gateway has its own dev keys; the identity (subject and issuer) is the same on both.
    const tokens = new Map([[a, await a.token('limits-agent-2', ['agents'])], [b, await b.token('limits-agent-2', ['agents'])]]);
    const lead = await a.token('limits-lead', ['clinical-leads']);
    const held: Array<Promise<string | null>> = [];
    // Four pending, two on each instance, each from its own session.
    for (const [i, gw] of [a, a, b, b].entries()) {
      const c = await gw.client(tokens.get(gw)!);
      held.push(codeOf(c.query(update(`555-12${i}0`))));
      await pendingRequest(a.gw.adminPort!, lead, `'555-12${i}0'`);
    }
    const fifth = await b.client(tokens.get(b)!);
    const error = await fifth.query(update('555-1299')).then(() => null, (e: { code?: string; message: string }) => e);
    expect(error?.code).toBe('53400');
    expect(error?.message).toMatch(/max_pending_per_identity/);
    const pending = await pendingOf(a, lead, 'limits-agent-2');
    expect(pending).toHaveLength(4);
    // Deny one: its place is free again.
    await api(a.gw.adminPort!, `/approvals/api/requests/${pending[0]!.id}/answer`, lead, { verdict: 'deny' });
    const again = codeOf(fifth.query(update('555-1298')));
    const opened = await pendingRequest(a.gw.adminPort!, lead, "'555-1298'");
    for (const r of [...pending.slice(1), opened]) await api(a.gw.adminPort!, `/approvals/api/requests/${r.id}/answer`, lead, { verdict: 'deny' });
    expect(await Promise.all([...held, again])).toEqual(['42501', '42501', '42501', '42501', '42501']);
  });

  it('250 pending requests for another approver group leave this group\'s request in its inbox (filtered in SQL before the limit)', async () => {
    const svc = a.gw.approvals.service;
    const revision = a.gw.engine().revision;
    const leads = new Map([[a, await a.token('limits-lead', ['clinical-leads'])], [b, await b.token('limits-lead', ['clinical-leads'])]]);
    const mine = await svc.open({ ...heldUpdate(), policy: { ...heldUpdate().policy, revision } });
    const flood = [];
    for (let i = 0; i < 250; i++) {
      const fields = heldUpdate({ requester: { ...heldUpdate().requester, subject: `limits-flooder-${i}` } });
      flood.push(await svc.open({ ...fields, policy: { ...fields.policy, revision }, requirements: { ...fields.requirements, approvers: ['pharmacy-leads'] } }));
    }
    try {
      for (const gw of [a, b]) {
        const { body } = await api(gw.gw.adminPort!, '/approvals/api/requests?state=pending', leads.get(gw)!);
        expect((body.requests as Array<{ id: string }>).map((r) => r.id)).toContain(mine.id);
      }
    } finally {
      for (const r of [mine, ...flood]) await svc.withdraw(r.id, 'test over');
    }
  });
});
