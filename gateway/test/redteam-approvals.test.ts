// Sixth red-team round, part one: the approval hold (approvals/, enforce/approval-hold.ts, the
// session's hold), attacked through a real Gatehouse in front of the real PostgreSQL with real JWTs,
// node-postgres and the raw wire client, and the admin listener's JSON API. The example policy makes
// `agents`' writes to clinical.patients wait for one `clinical-leads` approver (grant up to 30 min).
// Every test asserts the SECURE behaviour; what was found is listed here.
//
//   R6-A1 (high, fixed) a grant covers libpg-query's fingerprint, which ignores how many values an
//         IN list or array holds and whether a value is one constant or an array: a grant given for
//         `UPDATE clinical.patients SET phone = '555-0601' WHERE id = 21` let
//         `... WHERE id IN (22, 23, 24)` and `... WHERE id = ANY('{25,26}')` (any number of rows)
//         run without asking. A grant now also needs the same normalized text (literals replaced by
//         $n, comments and spacing aside): approvals/statement-shape.ts.
//   R6-A2 (medium, fixed) GET /approvals/api/grants listed every grant to anyone with a valid
//         token, agents included: other identities' subjects and statement shapes, comments (the
//         requester's reason) included. It now lists the grants whose request the caller may see
//         (its approvers, the requester) and those the caller gave.
//   R6-A3 (low, fixed) the requester's reason was read from the first "reason:" anywhere in the
//         query string, inside string literals too: `SET address = '/* reason: approved by the
//         CISO */'` showed approvers a reason the agent never gave, and satisfied reason_required.
//         Only real comments count now.
//   R6-A4 (medium, fixed) `COPY clinical.patients (...) FROM STDIN` was held like any write: the
//         approver saw only the statement, said yes, and the agent then streamed whatever rows it
//         liked (a patient row with an SSN went in); a grant would have let any later load in. COPY
//         FROM is now refused (0A000) before anyone is asked (enforce/approval-hold.ts).
//   R6-A5 (high, fixed) a held write must not read masked columns of its own table (docs: "RETURNING
//         ssn, RETURNING * ... such a write is never held"), but a whole-row reference was not seen
//         as reading them: `UPDATE clinical.patients p SET phone = ... WHERE id = 45 RETURNING p`
//         (or `RETURNING (p).ssn`, `SET address = p::text`, `to_jsonb(q)`) was held, and an approver
//         who approved a phone change sent the raw SSN, name and address to the agent (or copied them
//         into a column it reads unmasked). A reference to a table or alias name now counts as "*".
//   R6-A7 (medium, fixed) one Query of 250 held statements opened 250 requests, and the inbox kept
//         the 200 newest before filtering for the viewer: a flood hid other requests. Pending
//         requests are now capped per session and identity (53400), and lists filter first.
//
// Run: GATEHOUSE_TEST_DB=gatehouse_it_redteam6 npx vitest run --project integration gateway/test/redteam-approvals.test.ts

import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { chromium } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { heldUpdate } from '../src/approvals/test-fixtures.ts';
import { mintDevToken } from '../src/auth/dev-keys.ts';
import { loadConfig } from '../src/config/load.ts';
import { startGateway, type RunningGateway } from '../src/server.ts';
import { api, pendingRequest } from './support/approvals.ts';
import { writeTestConfig } from './support/gateway-config.ts';
import { startTestGateway, type TestGateway } from './support/harness.ts';
import { commitFiles, createTestPolicyRepo } from './support/policy-repo.ts';
import { errorCodes, serialize, WireClient } from './support/wire-client.ts';

let t: TestGateway;
let admin: number;
let direct: pg.Client;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  t = await startTestGateway({ admin: true });
  admin = t.gw.adminPort!;
  direct = new pg.Client({ connectionString: t.upstreamUrl });
  await direct.connect();
  tokens['agent'] = await t.token('rt6-agent', ['agents']);
  tokens['agent2'] = await t.token('rt6-agent-2', ['agents']);
  tokens['lead'] = await t.token('rt6-lead', ['clinical-leads']);
  tokens['lead2'] = await t.token('rt6-lead-2', ['clinical-leads']);
  tokens['nurse'] = await t.token('rt6-nurse', ['nurses']);
}, 120_000);

// A grant left by a failed test would let the next tests' statements through: revoke them all.
afterEach(async () => {
  for (const g of await t.gw.approvals.service.grants()) {
    if (g.revokedAt === null) await api(admin, `/approvals/api/grants/${g.id}/revoke`, tokens['lead']!, {});
  }
});

afterAll(async () => {
  await direct?.end();
  await t?.close();
});

async function phoneOf(id: number): Promise<string> {
  return (await direct.query('SELECT phone FROM clinical.patients WHERE id = $1', [id])).rows[0].phone as string;
}

async function phonesOf(ids: number[]): Promise<string[]> {
  return Promise.all(ids.map(phoneOf));
}

/**
 * Sends `sql` and reports whether it ran at once or was held (a pending request whose text holds
 * `marker` appeared; it is then denied so that the statement ends). No timing is asserted: the
 * statement either completes or its request shows up.
 */
async function ranOrHeld(c: pg.Client, sql: string, marker: string, values?: unknown[]): Promise<'ran' | 'held' | string> {
  let settled: string | null = null;
  const q = c.query(sql, values).then(
    () => (settled = 'ran'),
    (e: { code?: string }) => (settled = e.code ?? 'error'),
  );
  for (let i = 0; i < 400 && settled === null; i++) {
    const { body } = await api(admin, '/approvals/api/requests?state=pending', tokens['lead']!);
    const found = (body.requests ?? []).find((r: { statement: { text: string } }) => r.statement.text.includes(marker));
    if (found) {
      await api(admin, `/approvals/api/requests/${found.id}/answer`, tokens['lead']!, { verdict: 'deny', comment: 'red team' });
      await q;
      return 'held';
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  await q;
  return settled ?? 'neither';
}

async function approveNext(marker: string, body: Record<string, unknown> = { verdict: 'approve' }, who = 'lead'): Promise<{ request: any; answer: { status: number; body: any } }> {
  const request = await pendingRequest(admin, tokens[who]!, marker);
  return { request, answer: await api(admin, `/approvals/api/requests/${request.id}/answer`, tokens[who]!, body) };
}

describe('grant scope', () => {
  it('R6-A1: a grant for one row does not cover an IN list or an array of rows (same libpg-query fingerprint)', async () => {
    const agent = await t.client(tokens['agent']!);
    const held = agent.query("UPDATE clinical.patients SET phone = '555-0601' WHERE id = 21");
    const { answer } = await approveNext("'555-0601'", { verdict: 'approve', grant_minutes: 10 });
    expect(answer.body.grant_id).toEqual(expect.any(String));
    await held;
    const before = await phonesOf([22, 23, 24, 25, 26]);
    // Same shape, another literal: the documented reach of a grant.
    expect(await ranOrHeld(agent, "UPDATE clinical.patients SET phone = '555-0602' WHERE id = 27", "'555-0602'")).toBe('ran');
    // More rows than one, with the same fingerprint: must be asked again.
    expect(await ranOrHeld(agent, "UPDATE clinical.patients SET phone = '555-0666' WHERE id IN (22, 23, 24)", "'555-0666'")).toBe('held');
    expect(await ranOrHeld(agent, "UPDATE clinical.patients SET phone = '555-0667' WHERE id = ANY('{25,26}')", "'555-0667'")).toBe('held');
    expect(await phonesOf([22, 23, 24, 25, 26])).toEqual(before);
    await api(admin, `/approvals/api/grants/${answer.body.grant_id}/revoke`, tokens['lead']!, {});
  });

  it('a grant is for its identity only, and another comment or spacing does not widen or break it', async () => {
    const agent = await t.client(tokens['agent']!);
    const held = agent.query("UPDATE clinical.patients SET phone = '555-0611' WHERE id = 28");
    const { answer } = await approveNext("'555-0611'", { verdict: 'approve', grant_minutes: 5 });
    await held;
    expect(await ranOrHeld(agent, "/* reason: next one */ UPDATE clinical.patients SET phone = '555-0612' WHERE id = 29 -- done", "'555-0612'")).toBe('ran');
    const other = await t.client(tokens['agent2']!);
    expect(await ranOrHeld(other, "UPDATE clinical.patients SET phone = '555-0613' WHERE id = 29", "'555-0613'")).toBe('held');
    // A different statement touching the same table is not covered.
    expect(await ranOrHeld(agent, "UPDATE clinical.patients SET phone = '555-0614' WHERE id = 29 OR true", "'555-0614'")).toBe('held');
    await api(admin, `/approvals/api/grants/${answer.body.grant_id}/revoke`, tokens['lead']!, {});
  });

  it('R6-A2: the grants list shows a grant only to its approvers, granters and grantee', async () => {
    const agent = await t.client(tokens['agent']!);
    const held = agent.query("/* reason: private note about the patient */ UPDATE clinical.patients SET phone = '555-0621' WHERE id = 30");
    const { answer } = await approveNext("'555-0621'", { verdict: 'approve', grant_minutes: 5 });
    await held;
    const id = answer.body.grant_id as string;
    const listed = async (who: string): Promise<boolean> => {
      const res = await api(admin, '/approvals/api/grants', tokens[who]!);
      expect(res.status).toBe(200);
      return res.body.grants.some((g: { id: string }) => g.id === id);
    };
    expect(await listed('lead')).toBe(true);
    expect(await listed('lead2')).toBe(true); // may answer such requests, and revoke the grant
    expect(await listed('agent')).toBe(true); // the grantee
    expect(await listed('agent2')).toBe(false);
    expect(await listed('nurse')).toBe(false);
    await api(admin, `/approvals/api/grants/${id}/revoke`, tokens['lead']!, {});
  });
});

describe('the approval covers the held Execute only', () => {
  it('pipelined: Bind with other values after an approved Execute is held again, and a denial stops it', async () => {
    const w = await WireClient.connect(t.port, tokens['agent']!);
    const before32 = await phoneOf(32);
    w.send(
      serialize.parse({ name: 'upd', text: 'UPDATE clinical.patients SET phone = $1 WHERE id = $2' }),
      serialize.bind({ statement: 'upd', values: ['555-0631', '31'] }),
      serialize.execute({}),
      serialize.sync(), // its own transaction: the later denial does not roll it back
      serialize.bind({ statement: 'upd', values: ['555-0632', '32'] }),
      serialize.execute({}),
      serialize.sync(),
    );
    const first = await pendingRequest(admin, tokens['lead']!, 'SET phone = $1');
    expect(first.statement.parameters).toEqual(['555-0631', '31']);
    // Nothing behind the held Execute has reached PostgreSQL.
    expect(await phoneOf(32)).toBe(before32);
    await api(admin, `/approvals/api/requests/${first.id}/answer`, tokens['lead']!, { verdict: 'approve' });
    let second: any = null;
    for (let i = 0; i < 400 && second === null; i++) {
      const { body } = await api(admin, '/approvals/api/requests?state=pending', tokens['lead']!);
      second = body.requests.find((r: { statement: { parameters: string[] | null } }) => r.statement.parameters?.[0] === '555-0632') ?? null;
      if (second === null) await new Promise((r) => setTimeout(r, 25));
    }
    expect(second).not.toBeNull();
    await api(admin, `/approvals/api/requests/${second.id}/answer`, tokens['lead']!, { verdict: 'deny' });
    const [approved, denied] = await w.untilReady(2);
    expect(errorCodes(approved!)).toEqual([]);
    expect(errorCodes(denied!)).toEqual(['42501']);
    expect(await phoneOf(31)).toBe('555-0631');
    expect(await phoneOf(32)).toBe(before32);
    w.close();
  });

  it('a disconnect while held withdraws the request; a later approval is refused and nothing runs', async () => {
    const w = await WireClient.connect(t.port, tokens['agent']!);
    const before = await phoneOf(33);
    w.send(
      serialize.parse({ name: '', text: 'UPDATE clinical.patients SET phone = $1 WHERE id = $2' }),
      serialize.bind({ values: ['555-0641', '33'] }),
      serialize.execute({}),
      serialize.sync(),
    );
    const request = await pendingRequest(admin, tokens['lead']!, 'SET phone = $1');
    w.close();
    let state = 'pending';
    for (let i = 0; i < 400 && state === 'pending'; i++) {
      state = (await api(admin, `/approvals/api/requests/${request.id}`, tokens['lead']!)).body.state;
      if (state === 'pending') await new Promise((r) => setTimeout(r, 25));
    }
    expect(state).toBe('withdrawn');
    expect(await api(admin, `/approvals/api/requests/${request.id}/answer`, tokens['lead']!, { verdict: 'approve' })).toMatchObject({ status: 409, body: { code: 'not_pending' } });
    await new Promise((r) => setTimeout(r, 300));
    expect(await phoneOf(33)).toBe(before);
  });

  it('two held statements of one Query: one approval is not enough, neither runs', async () => {
    const agent = await t.client(tokens['agent']!);
    const before = await phonesOf([34, 35]);
    const q = agent
      .query("UPDATE clinical.patients SET phone = '555-0651' WHERE id = 34; UPDATE clinical.patients SET phone = '555-0652' WHERE id = 35")
      .then(() => null, (e: { code?: string }) => e.code);
    await approveNext("'555-0651'");
    const second = await pendingRequest(admin, tokens['lead']!, "'555-0652'");
    await api(admin, `/approvals/api/requests/${second.id}/answer`, tokens['lead']!, { verdict: 'deny' });
    expect(await q).toBe('42501');
    expect(await phonesOf([34, 35])).toEqual(before);
  });

  it('in a transaction block: an approved write is undone by ROLLBACK; a denied one aborts the block until ROLLBACK', async () => {
    const agent = await t.client(tokens['agent']!);
    const before = await phoneOf(36);
    await agent.query('BEGIN');
    const held = agent.query("UPDATE clinical.patients SET phone = '555-0661' WHERE id = 36");
    await approveNext("'555-0661'");
    expect((await held).rowCount).toBe(1);
    await agent.query('ROLLBACK');
    expect(await phoneOf(36)).toBe(before);

    await agent.query('BEGIN');
    expect(await ranOrHeld(agent, "UPDATE clinical.patients SET phone = '555-0662' WHERE id = 36", "'555-0662'")).toBe('held');
    const next = await agent.query('SELECT 1').then(() => null, (e: { code?: string }) => e.code);
    expect(next).toBe('25P02');
    await agent.query('ROLLBACK');
    expect((await agent.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
    expect(await phoneOf(36)).toBe(before);
  });
});

describe('what approvers cannot see is not held', () => {
  it('R6-A4: COPY ... FROM STDIN into a table that needs approval is refused, not held (its rows come after the approval)', async () => {
    const w = await WireClient.connect(t.port, tokens['agent']!);
    const count = async (): Promise<number> => (await direct.query('SELECT count(*)::int AS n FROM clinical.patients')).rows[0].n;
    const before = await count();
    w.send(serialize.query('COPY clinical.patients (id, mrn, first_name, last_name, ssn, date_of_birth, phone, email, address, diagnosis_code) FROM STDIN'));
    // Held (the bug) or refused (the fix): answer any request it opened so that the test ends either way.
    let settledCodes: string[] | null = null;
    const done = w.untilReady(1).then(([batch]) => (settledCodes = errorCodes(batch!)));
    let opened: any = null;
    for (let i = 0; i < 200 && settledCodes === null && opened === null; i++) {
      const { body } = await api(admin, '/approvals/api/requests?state=pending', tokens['lead']!);
      opened = body.requests.find((r: { statement: { text: string } }) => r.statement.text.startsWith('COPY clinical.patients')) ?? null;
      if (opened === null) await new Promise((r) => setTimeout(r, 25));
    }
    if (opened !== null) {
      // An approver says yes to the statement; the rows the agent streams next (they wait in order
      // behind the held Query) were never shown.
      await api(admin, `/approvals/api/requests/${opened.id}/answer`, tokens['lead']!, { verdict: 'approve' });
      w.send(serialize.copyData(Buffer.from('9001\tMRN-9001\tEve\tIntruder\t000-00-0001\t1970-01-01\t555-0999\te@x.invalid\tnowhere\tZ00\n')), serialize.copyDone());
    }
    await done;
    expect(opened).toBeNull();
    expect(settledCodes).toEqual(['0A000']);
    expect(await count()).toBe(before);
    await direct.query('DELETE FROM clinical.patients WHERE id = 9001');
    w.close();
  });
});

describe('a held write does not read masked columns, whole rows included', () => {
  it('R6-A5: RETURNING or SET over a whole-row reference (p, patients, (p).ssn) is refused before anyone is asked', async () => {
    const agent = await t.client(tokens['agent']!);
    for (const [i, sql] of [
      "UPDATE clinical.patients p SET phone = '555-0711' WHERE id = 45 RETURNING p",
      "UPDATE clinical.patients SET phone = '555-0712' WHERE id = 45 RETURNING patients",
      "UPDATE clinical.patients p SET phone = '555-0713' WHERE id = 45 RETURNING (p).ssn",
      "UPDATE clinical.patients p SET phone = '555-0714', address = p::text WHERE id = 45",
      "UPDATE clinical.patients SET phone = '555-0715' WHERE id = 45 AND row_to_json(patients)::text LIKE '%-%'",
      "DELETE FROM clinical.patients AS q WHERE id = -45 RETURNING to_jsonb(q) -- '555-0716'",
    ].entries()) {
      const outcome = await ranOrHeld(agent, sql, `'555-071${i + 1}'`);
      // 0A000: the held write reads masked columns of its own table; 42501: since write targets
      // count as reads (masking at the source), the policy denies it before it is held. Either way
      // nobody is asked and nothing runs.
      expect(['0A000', '42501'], sql).toContain(outcome);
    }
    expect(await phoneOf(45)).not.toMatch(/^555-071/);
  });
});

describe('who answers', () => {
  it('a requester who is also an approver cannot answer their own held statement', async () => {
    const both = await t.token('rt6-agent-lead', ['agents', 'clinical-leads']);
    const agent = await t.client(both);
    const q = agent.query("UPDATE clinical.patients SET phone = '555-0671' WHERE id = 37").then(() => null, (e: { code?: string }) => e.code);
    const request = await pendingRequest(admin, both, "'555-0671'");
    expect(request.can_answer).toBe(false);
    // A fresh token of the same subject, other groups and claims: still the requester.
    const again = await t.token('rt6-agent-lead', ['clinical-leads', 'other']);
    expect(await api(admin, `/approvals/api/requests/${request.id}/answer`, again, { verdict: 'approve' })).toMatchObject({ status: 403, body: { code: 'self_answer' } });
    await api(admin, `/approvals/api/requests/${request.id}/answer`, tokens['lead']!, { verdict: 'deny' });
    expect(await q).toBe('42501');
  });

  it('quorum counts people, not tokens: the same subject with changed claims answers once', async () => {
    const svc = t.gw.approvals.service;
    const fields = heldUpdate();
    const r = await svc.open({
      ...fields,
      requester: { ...fields.requester, subject: 'rt6-agent', issuer: 'https://gatehouse.dev.invalid' },
      policy: { ...fields.policy, revision: t.gw.engine().revision },
      requirements: { ...fields.requirements, quorum: 2 },
    });
    expect((await api(admin, `/approvals/api/requests/${r.id}/answer`, tokens['lead']!, { verdict: 'approve' })).body.state).toBe('pending');
    const changed = await t.token('rt6-lead', ['clinical-leads', 'auditors'], 600);
    expect(await api(admin, `/approvals/api/requests/${r.id}/answer`, changed, { verdict: 'approve' })).toMatchObject({ status: 409, body: { code: 'already_answered' } });
    expect((await api(admin, `/approvals/api/requests/${r.id}`, tokens['lead']!)).body.state).toBe('pending');
    // A group named like the approvers' in another case is another group.
    const lookalike = await t.token('rt6-lookalike', ['Clinical-Leads', 'clinical_leads']);
    expect(await api(admin, `/approvals/api/requests/${r.id}/answer`, lookalike, { verdict: 'approve' })).toMatchObject({ status: 403, body: { code: 'not_an_approver' } });
    expect((await api(admin, `/approvals/api/requests/${r.id}/answer`, tokens['lead2']!, { verdict: 'approve' })).body.state).toBe('approved');
  });

  it('an answer after the TTL is refused and closes the request as expired', async () => {
    const svc = t.gw.approvals.service;
    const fields = heldUpdate();
    const r = await svc.open({ ...fields, policy: { ...fields.policy, revision: t.gw.engine().revision }, requirements: { ...fields.requirements, ttlSeconds: 1 } });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    // The answer closes it as expired ('expired'), unless the expiry sweep got there first on a busy
    // machine: then it is refused as no longer pending ('not_pending'). Never approved either way.
    const answered = await api(admin, `/approvals/api/requests/${r.id}/answer`, tokens['lead']!, { verdict: 'approve' });
    expect(answered.status).toBe(409);
    expect(['expired', 'not_pending']).toContain((answered.body as { code?: string }).code);
    expect((await api(admin, `/approvals/api/requests/${r.id}`, tokens['lead']!)).body.state).toBe('expired');
  });
});

describe('the inbox cannot be flooded', () => {
  // R6-A7 (medium, fixed): one Query of 250 statements that need approval opened 250 requests at once
  // (enforce/approval-hold.ts held them all in parallel), and the inbox listed only the 200 newest
  // pending requests, cut before they were filtered for the viewer (store.list({ limit }) then
  // visibleTo). An agent thus hid other agents' held statements from the approvers, and a flood for
  // one approver group emptied another group's inbox. Now a session may have at most
  // approvals.max_pending_per_session pending requests (an identity, approvals.max_pending_per_identity):
  // a string that would open more is refused with 53400 before any opens; and lists filter for the
  // viewer before they keep the newest (in SQL for the postgres store).
  it('R6-A7: one Query of 250 held statements is refused with 53400, opening nothing, and the other agent\'s request stays in the inbox', async () => {
    const other = await t.client(tokens['agent2']!);
    const victim = other.query("UPDATE clinical.patients SET phone = '555-0801' WHERE id = 47").then(() => null, (e: { code?: string }) => e.code);
    const victimRequest = await pendingRequest(admin, tokens['lead']!, "'555-0801'");
    const flooder = await t.client(tokens['agent']!);
    const flood = Array.from({ length: 250 }, (_, i) => `UPDATE clinical.patients SET phone = '555-09${String(i).padStart(2, '0')}' WHERE id = 48`).join(';');
    try {
      const before = await phoneOf(48);
      expect(await flooder.query(flood).then(() => null, (e: { code?: string }) => e.code)).toBe('53400');
      expect(await phoneOf(48)).toBe(before);
      const pending: Array<{ id: string; requester: { subject: string } }> = (await api(admin, '/approvals/api/requests?state=pending', tokens['lead']!)).body.requests;
      expect(pending.some((r) => r.id === victimRequest.id)).toBe(true);
      expect(pending.filter((r) => r.requester.subject === 'rt6-agent')).toEqual([]);
      // The session goes on.
      expect((await flooder.query('SELECT 1 AS ok')).rows[0].ok).toBe(1);
    } finally {
      await api(admin, `/approvals/api/requests/${victimRequest.id}/answer`, tokens['lead']!, { verdict: 'deny' });
      await victim;
    }
  });

  it('R6-A7: 250 pending requests for another approver group do not push a request out of this group\'s inbox', async () => {
    const svc = t.gw.approvals.service;
    const revision = t.gw.engine().revision;
    const mine = await svc.open({ ...heldUpdate(), policy: { ...heldUpdate().policy, revision } });
    const flood = [];
    for (let i = 0; i < 250; i++) {
      const fields = heldUpdate({ requester: { ...heldUpdate().requester, subject: `rt6-flooder-${i}` } });
      flood.push(await svc.open({ ...fields, policy: { ...fields.policy, revision }, requirements: { ...fields.requirements, approvers: ['pharmacy-leads'] } }));
    }
    try {
      const pending: Array<{ id: string }> = (await api(admin, '/approvals/api/requests?state=pending', tokens['lead']!)).body.requests;
      expect(pending.map((r) => r.id)).toContain(mine.id);
    } finally {
      for (const r of [mine, ...flood]) await svc.withdraw(r.id, 'test over');
    }
  });

  // R6-A6 (low, fixed): group and role names were trimmed when read from the token
  // (auth/claims.ts readListClaim), so a group named "clinical-leads " at the identity provider
  // answered for "clinical-leads" (and matched every policy rule naming it). Where people may create
  // groups at the identity provider, that was a way to become an approver. Names are kept exactly now.
  it('R6-A6: a group whose name only looks like the approvers\' (a blank before or after it) cannot answer, see or revoke', async () => {
    const r = await t.gw.approvals.service.open({ ...heldUpdate(), policy: { ...heldUpdate().policy, revision: t.gw.engine().revision } });
    for (const name of ['clinical-leads ', ' clinical-leads', 'clinical-leads\t']) {
      const lookalike = await t.token('rt6-lookalike-2', [name]);
      expect(await api(admin, `/approvals/api/requests/${r.id}/answer`, lookalike, { verdict: 'approve' })).toMatchObject({ status: 403, body: { code: 'not_an_approver' } });
      expect((await api(admin, `/approvals/api/requests/${r.id}`, lookalike)).status).toBe(404);
      expect((await api(admin, '/approvals/api/requests?state=all', lookalike)).body.requests).toEqual([]);
    }
    expect((await api(admin, `/approvals/api/requests/${r.id}`, tokens['lead']!)).body.state).toBe('pending');
    expect((await api(admin, `/approvals/api/requests/${r.id}/answer`, tokens['lead']!, { verdict: 'deny' })).body.state).toBe('denied');
  });

  it('R6-A6: an agent whose group only looks like "agents" gets none of their rights', async () => {
    const lookalike = await t.client(await t.token('rt6-lookalike-3', ['agents ']));
    expect(await lookalike.query('SELECT id FROM clinical.patients LIMIT 1').then(() => null, (e: { code?: string }) => e.code)).toBe('42501');
  });
});

describe('the JSON API authenticates every call', () => {
  const get = (token: string | null, headers: Record<string, string> = {}) =>
    fetch(`http://127.0.0.1:${admin}/approvals/api/requests`, { headers: { ...(token === null ? {} : { Authorization: `Bearer ${token}` }), ...headers } });

  it('refuses expired, wrong-audience, wrong-issuer and non-bearer credentials', async () => {
    const expired = await mintDevToken({ keyDir: t.keyDir, subject: 'rt6-lead', groups: ['clinical-leads'], ttlSeconds: -600 });
    const audience = await mintDevToken({ keyDir: t.keyDir, subject: 'rt6-lead', groups: ['clinical-leads'], ttlSeconds: 600, audience: 'another-service' });
    const issuer = await mintDevToken({ keyDir: t.keyDir, subject: 'rt6-lead', groups: ['clinical-leads'], ttlSeconds: 600, issuer: 'https://evil.invalid' });
    for (const bad of [expired, audience, issuer]) expect((await get(bad)).status).toBe(401);
    expect((await get(null, { Authorization: `Basic ${Buffer.from(`x:${tokens['lead']}`).toString('base64')}` })).status).toBe(401);
    expect((await fetch(`http://127.0.0.1:${admin}/approvals/api/requests?access_token=${tokens['lead']}`)).status).toBe(401);
    expect((await get(tokens['lead']!)).status).toBe(200);
  });

  it('a cross-site form post carries no credential, and no CORS header invites a script from elsewhere', async () => {
    const r = await t.gw.approvals.service.open({ ...heldUpdate(), policy: { ...heldUpdate().policy, revision: t.gw.engine().revision } });
    const res = await fetch(`http://127.0.0.1:${admin}/approvals/api/requests/${r.id}/answer`, {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain', Origin: 'https://evil.example' },
      body: JSON.stringify({ verdict: 'approve' }),
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    const preflight = await fetch(`http://127.0.0.1:${admin}/approvals/api/requests/${r.id}/answer`, { method: 'OPTIONS', headers: { Origin: 'https://evil.example' } });
    expect(preflight.status).toBeGreaterThanOrEqual(400);
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    expect((await api(admin, `/approvals/api/requests/${r.id}`, tokens['lead']!)).body.state).toBe('pending');
  });
});

describe("the requester's reason", () => {
  it('R6-A3: a "reason:" inside a string literal is not the requester\'s reason', async () => {
    const agent = await t.client(tokens['agent']!);
    const q = agent.query("UPDATE clinical.patients SET phone = '555-0681', address = '/* reason: approved by the CISO */' WHERE id = 38").then(() => null, (e: { code?: string }) => e.code);
    const request = await pendingRequest(admin, tokens['lead']!, "'555-0681'");
    expect(request.requester_reason).toBeNull();
    await api(admin, `/approvals/api/requests/${request.id}/answer`, tokens['lead']!, { verdict: 'deny' });
    expect(await q).toBe('42501');
  });

  it('a real reason comment is read, after a string that holds comment-like text', async () => {
    const agent = await t.client(tokens['agent']!);
    const q = agent.query("UPDATE clinical.patients SET phone = '555-0682', address = '-- not a comment' WHERE id = 38 /* reason: ticket 99 */").then(() => null, (e: { code?: string }) => e.code);
    const request = await pendingRequest(admin, tokens['lead']!, "'555-0682'");
    expect(request.requester_reason).toBe('ticket 99');
    await api(admin, `/approvals/api/requests/${request.id}/answer`, tokens['lead']!, { verdict: 'deny' });
    expect(await q).toBe('42501');
  });
});

describe('a new policy commit ends grants and pending requests', () => {
  let repo: string;
  let gw: RunningGateway;
  let keyDir: string;
  let lead: string;
  let agentToken: string;
  const clients: pg.Client[] = [];

  beforeAll(async () => {
    repo = createTestPolicyRepo();
    const workDir = mkdtempSync(join(tmpdir(), 'gatehouse-it-rt6-'));
    keyDir = join(workDir, 'keys');
    const configFile = await writeTestConfig(workDir, {
      upstream: { url: t.upstreamUrl },
      policies: { engine: 'rego', git: { url: repo, poll_interval_seconds: 0, work_dir: 'policy-repo' }, eval_timeout_ms: 5000 },
      admin: { port: 0 },
      audit: { file: 'audit.ndjson' },
    });
    gw = await startGateway(await loadConfig(configFile));
    lead = await mintDevToken({ keyDir, subject: 'rt6-lead', groups: ['clinical-leads'], ttlSeconds: 3600 });
    agentToken = await mintDevToken({ keyDir, subject: 'rt6-agent', groups: ['agents'], ttlSeconds: 3600 });
  }, 180_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    await gw?.close();
  });

  async function agentClient(): Promise<pg.Client> {
    const c = new pg.Client({ host: '127.0.0.1', port: gw.port, user: 'agent', database: 'postgres', password: agentToken });
    c.on('error', () => undefined);
    await c.connect();
    clients.push(c);
    return c;
  }

  async function newCommit(note: string): Promise<void> {
    const clinical = readFileSync(join(repo, 'policies/rego/clinical.rego'), 'utf8');
    commitFiles(repo, { 'policies/rego/clinical.rego': `${clinical}\n# ${note}\n` }, note);
    expect(await gw.refreshPolicies()).toMatchObject({ outcome: 'activated' });
  }

  it('a grant given under the old commit lets nothing through under the new one', async () => {
    const port = gw.adminPort!;
    const agent = await agentClient();
    const held = agent.query("UPDATE clinical.patients SET phone = '555-0691' WHERE id = 39");
    const request = await pendingRequest(port, lead, "'555-0691'");
    const answer = await api(port, `/approvals/api/requests/${request.id}/answer`, lead, { verdict: 'approve', grant_minutes: 10 });
    await held;
    const before = await phoneOf(40);
    await newCommit('grant test');
    const again = agent.query("UPDATE clinical.patients SET phone = '555-0692' WHERE id = 40").then(() => null, (e: { code?: string }) => e.code);
    const second = await pendingRequest(port, lead, "'555-0692'");
    await api(port, `/approvals/api/requests/${second.id}/answer`, lead, { verdict: 'deny' });
    expect(await again).toBe('42501');
    expect(await phoneOf(40)).toBe(before);
    const grants = (await api(port, '/approvals/api/grants', lead)).body.grants;
    expect(grants.find((g: { id: string }) => g.id === answer.body.grant_id)?.state).toBe('void');
  });

  it('a statement held under the old commit does not run when approved after the activation', async () => {
    const port = gw.adminPort!;
    const agent = await agentClient();
    const before = await phoneOf(43);
    const held = agent.query("UPDATE clinical.patients SET phone = '555-0693' WHERE id = 43").then(() => null, (e: { code?: string }) => e.code);
    const request = await pendingRequest(port, lead, "'555-0693'");
    await newCommit('pending test');
    // Approved before the sweeper voids it, or refused because it did: either way it must not run.
    const answer = await api(port, `/approvals/api/requests/${request.id}/answer`, lead, { verdict: 'approve' });
    expect([200, 409]).toContain(answer.status);
    expect(await held).toBe('42501');
    expect(await phoneOf(43)).toBe(before);
  });
});

describe('with the PostgreSQL store', () => {
  let shared: TestGateway;

  beforeAll(async () => {
    shared = await startTestGateway({ admin: true, approvalsStore: 'postgres' });
  }, 120_000);
  afterAll(async () => shared?.close());

  it('agents can neither read nor forge requests and grants in the gatehouse schema', async () => {
    expect((await direct.query("SELECT to_regclass('gatehouse.approval_grants') IS NOT NULL AS there")).rows[0].there).toBe(true);
    const agent = await shared.client(await shared.token('rt6-agent', ['agents']));
    const grantsBefore = (await direct.query('SELECT count(*)::int AS n FROM gatehouse.approval_grants')).rows[0].n;
    for (const sql of [
      'SELECT * FROM gatehouse.approval_grants',
      'SELECT doc FROM "gatehouse"."approval_requests"',
      "INSERT INTO gatehouse.approval_grants (id, fingerprint, subject, created_at, doc) VALUES (gen_random_uuid(), 'x', 'rt6-agent', now(), '{}')",
      "UPDATE gatehouse.approval_requests SET state = 'approved'",
      'WITH g AS (SELECT * FROM gatehouse.approval_grants) SELECT count(*) FROM g',
      "SELECT query_to_xml('SELECT doc FROM gatehouse.approval_requests', true, true, '')",
    ]) {
      const code = await agent.query(sql).then(() => null, (e: { code?: string }) => e.code);
      expect(code, sql).toBe('42501');
    }
    await agent.query('SET search_path = gatehouse, public').catch(() => undefined);
    expect(await agent.query('SELECT * FROM approval_grants').then(() => null, (e: { code?: string }) => e.code)).toMatch(/^(42501|42P01)$/);
    expect((await direct.query('SELECT count(*)::int AS n FROM gatehouse.approval_grants')).rows[0].n).toBe(grantsBefore);
  });

  it('a disconnect withdraws the shared request; a later approval is refused and nothing runs', async () => {
    const port = shared.gw.adminPort!;
    const leadToken = await shared.token('rt6-lead', ['clinical-leads']);
    const agent = await shared.client(await shared.token('rt6-agent', ['agents']));
    const before = await phoneOf(44);
    void agent.query("UPDATE clinical.patients SET phone = '555-0701' WHERE id = 44").catch(() => undefined);
    const request = await pendingRequest(port, leadToken, "'555-0701'");
    (agent as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    let state = 'pending';
    for (let i = 0; i < 400 && state === 'pending'; i++) {
      state = (await api(port, `/approvals/api/requests/${request.id}`, leadToken)).body.state;
      if (state === 'pending') await new Promise((r) => setTimeout(r, 25));
    }
    expect(state).toBe('withdrawn');
    expect((await api(port, `/approvals/api/requests/${request.id}/answer`, leadToken, { verdict: 'approve' })).status).toBe(409);
    await new Promise((r) => setTimeout(r, 300));
    expect(await phoneOf(44)).toBe(before);
  });
});

describe('the page shows hostile text as text', () => {
  it('statement, literals, reason and comments carrying markup run no script in a real browser', async () => {
    const browser = await chromium.launch({ executablePath: process.env['GATEHOUSE_CHROMIUM'] ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
    try {
      const agent = await t.client(tokens['agent']!);
      const before = await phoneOf(46);
      const held = agent
        .query(`/* reason: <script>window.__pwned = 'reason'</script><img src=x onerror="window.__pwned='reason-img'"> */ UPDATE clinical.patients SET phone = '<img src=x onerror="window.__pwned=1">', address = '</pre><svg onload="window.__pwned=2">' WHERE id = 46 -- <iframe src="javascript:window.top.__pwned=3">`)
        .then(() => null, (e: { code?: string }) => e.code);
      const page = await browser.newPage();
      const dialogs: string[] = [];
      page.on('dialog', (d) => {
        dialogs.push(d.message());
        void d.dismiss();
      });
      await page.goto(`http://127.0.0.1:${admin}/approvals`);
      await page.fill('#token', tokens['lead']!);
      await page.click('#signin-button');
      const card = page.locator('article[data-request]', { hasText: 'window.__pwned=1' });
      await card.waitFor({ timeout: 60_000 });
      const text = (await card.textContent()) ?? '';
      expect(text).toContain(`<img src=x onerror="window.__pwned=1">`);
      expect(text).toContain('<script>window.__pwned');
      await card.getByRole('textbox').fill(`<img src=x onerror="window.__pwned='comment'">`);
      await card.getByRole('button', { name: 'Deny' }).click();
      expect(await held).toBe('42501');
      await page.click('[data-view=history]');
      const closed = page.locator('article[data-request]', { hasText: 'window.__pwned=1' }).first();
      await closed.waitFor({ timeout: 60_000 });
      expect(await closed.textContent()).toContain(`onerror="window.__pwned='comment'"`);
      expect(await page.evaluate(() => (window as unknown as { __pwned?: unknown }).__pwned ?? null)).toBeNull();
      expect(await page.locator('#list img, #list svg, #list iframe, #list script').count()).toBe(0);
      expect(dialogs).toEqual([]);
      expect(await phoneOf(46)).toBe(before);
      await page.close();
    } finally {
      await browser.close();
    }
  });
});
