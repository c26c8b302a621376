// The approval JSON API on a real gateway's admin listener, with real JWTs: who may see and answer
// what, the schemas of what comes back, grants and their revocation, and the audit trail.

import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { heldUpdate } from '../src/approvals/test-fixtures.ts';
import type { ApprovalRequest } from '../src/approvals/types.ts';
import { compileSchemaFile } from '../src/schema/validator.ts';
import { startTestGateway, type TestGateway } from './support/harness.ts';

const validateRequest = compileSchemaFile(new URL('../../schemas/approval-request.schema.json', import.meta.url));
const validateGrant = compileSchemaFile(new URL('../../schemas/approval-grant.schema.json', import.meta.url));
const validateAudit = compileSchemaFile(new URL('../../schemas/audit-record.schema.json', import.meta.url));
const validateRequestPage = compileSchemaFile(new URL('../../schemas/approval-request-list.schema.json', import.meta.url), [new URL('../../schemas/approval-request.schema.json', import.meta.url)]);
const validateGrantPage = compileSchemaFile(new URL('../../schemas/approval-grant-list.schema.json', import.meta.url), [new URL('../../schemas/approval-grant.schema.json', import.meta.url)]);

let t: TestGateway;
let base: string;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  t = await startTestGateway({ admin: true });
  base = `http://127.0.0.1:${t.gw.adminPort}`;
  tokens['agent'] = await t.token('agent-7', ['agents']);
  tokens['lead'] = await t.token('lead-1', ['clinical-leads']);
  tokens['lead2'] = await t.token('lead-2', ['clinical-leads']);
  tokens['nurse'] = await t.token('nurse-1', ['nurses']);
}, 120_000);

afterAll(async () => {
  await t?.close();
});

async function call(path: string, who: string | null, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { ...(who === null ? {} : { Authorization: `Bearer ${tokens[who] ?? who}` }), 'Content-Type': 'application/json' },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  return { status: res.status, body: await res.json() };
}

/** A request opened as a held statement opens it, with the requester from a verified token. */
async function open(quorum = 1): Promise<ApprovalRequest> {
  const fields = heldUpdate();
  return t.gw.approvals.service.open({
    ...fields,
    requester: { ...fields.requester, ...(await whoIs('agent')) },
    policy: { ...fields.policy, revision: t.gw.engine().revision },
    requirements: { ...fields.requirements, quorum },
  });
}

async function whoIs(name: string): Promise<{ subject: string; issuer: string }> {
  const [, payload] = tokens[name]!.split('.');
  const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8')) as { sub: string; iss: string };
  return { subject: claims.sub, issuer: claims.iss };
}

describe('approval API', () => {
  it('needs a valid bearer token', async () => {
    expect((await call('/approvals/api/requests', null)).status).toBe(401);
    const bad = await call('/approvals/api/requests', 'not-a-jwt');
    expect(bad.status).toBe(401);
    expect(bad.body.error).toMatch(/token refused/);
  });

  it('shows literals to approvers only; outsiders see nothing', async () => {
    const r = await open();
    const lead = await call('/approvals/api/requests?state=pending', 'lead');
    expect(lead.status).toBe(200);
    const mine = lead.body.requests.find((x: { id: string }) => x.id === r.id);
    expect(validateRequest(mine), JSON.stringify(validateRequest.errors)).toBe(true);
    expect(mine.statement).toMatchObject({ text: heldUpdate().statement.text, literals_shown: true });
    expect(mine.can_answer).toBe(true);
    const agent = await call(`/approvals/api/requests/${r.id}`, 'agent');
    expect(agent.body.statement).toMatchObject({ text: 'UPDATE clinical.patients SET phone = $1 WHERE id = $2', literals_shown: false, parameters: null });
    expect(agent.body.can_answer).toBe(false);
    expect((await call(`/approvals/api/requests/${r.id}`, 'nurse')).status).toBe(404);
    expect((await call('/approvals/api/requests', 'nurse')).body.requests).toEqual([]);
    expect((await call('/approvals/api/requests?state=bogus', 'lead')).status).toBe(400);
  });

  it('refuses self-answers, outsiders, bad bodies and a second answer; approves at quorum', async () => {
    const r = await open(2);
    const answer = (who: string, body: unknown) => call(`/approvals/api/requests/${r.id}/answer`, who, body);
    expect(await answer('agent', { verdict: 'approve' })).toMatchObject({ status: 403, body: { code: 'self_answer' } });
    expect(await answer('nurse', { verdict: 'approve' })).toMatchObject({ status: 403, body: { code: 'not_an_approver' } });
    expect((await answer('lead', { verdict: 'maybe' })).status).toBe(400);
    expect((await answer('lead', '{not json')).status).toBe(400);
    expect((await answer('lead', { verdict: 'deny', grant_minutes: 5 })).status).toBe(400);
    expect(await answer('lead', { verdict: 'approve', grant_minutes: 600 })).toMatchObject({ status: 422, body: { code: 'grant_not_allowed' } });
    const first = await answer('lead', { verdict: 'approve', comment: 'looks right' });
    expect(first).toMatchObject({ status: 200, body: { state: 'pending' } });
    expect(await answer('lead', { verdict: 'approve' })).toMatchObject({ status: 409, body: { code: 'already_answered' } });
    const second = await answer('lead2', { verdict: 'approve', comment: 'agreed' });
    expect(second).toMatchObject({ status: 200, body: { state: 'approved' } });
    expect(second.body.answers.map((a: { approver: { subject: string } }) => a.approver.subject)).toEqual(['lead-1', 'lead-2']);
    expect(await answer('lead', { verdict: 'deny' })).toMatchObject({ status: 409, body: { code: 'not_pending' } });
    expect((await call('/approvals/api/requests/00000000-0000-0000-0000-000000000000/answer', 'lead', { verdict: 'deny' })).status).toBe(404);

    const records = t.audit().filter((x) => x.type === 'approval' && x.request_id === r.id);
    expect(records.map((x) => (x.type === 'approval' ? `${x.event}:${x.actor?.subject ?? '-'}` : ''))).toEqual([
      'requested:-',
      'answered:lead-1',
      'answered:lead-2',
      'approved:lead-2',
    ]);
    for (const x of records) expect(validateAudit(x), JSON.stringify(validateAudit.errors)).toBe(true);
    expect(records[1]).toMatchObject({ comment: 'looks right', verdict: 'approve', decision_id: 'decision-1', revision: t.gw.engine().revision });
  });

  it('a denial closes the request; the history lists it', async () => {
    const r = await open();
    expect(await call(`/approvals/api/requests/${r.id}/answer`, 'lead', { verdict: 'deny', comment: 'no' })).toMatchObject({ status: 200, body: { state: 'denied' } });
    const history = await call('/approvals/api/requests?state=closed', 'lead');
    expect(history.body.requests.some((x: { id: string; state: string }) => x.id === r.id && x.state === 'denied')).toBe(true);
    const inbox = await call('/approvals/api/requests?state=pending', 'lead');
    expect(inbox.body.requests.some((x: { id: string }) => x.id === r.id)).toBe(false);
  });

  it('a time-boxed grant is listed and revocable, by approvers only', async () => {
    const r = await open();
    const approved = await call(`/approvals/api/requests/${r.id}/answer`, 'lead', { verdict: 'approve', grant_minutes: 10 });
    expect(approved.body.grant_id).toEqual(expect.any(String));
    const grants = await call('/approvals/api/grants', 'lead');
    const grant = grants.body.grants.find((g: { id: string }) => g.id === approved.body.grant_id);
    expect(validateGrant(grant), JSON.stringify(validateGrant.errors)).toBe(true);
    expect(grant).toMatchObject({ state: 'active', subject: 'agent-7', statement: 'UPDATE clinical.patients SET phone = $1 WHERE id = $2' });
    const agentId = await whoIs('agent');
    expect(await t.gw.approvals.service.findGrant({ fingerprint: 'fp-update-phone', normalized: 'UPDATE clinical.patients SET phone = $1 WHERE id = $2', ...agentId })).not.toBeNull();
    expect((await call(`/approvals/api/grants/${grant.id}/revoke`, 'nurse', {})).status).toBe(403);
    const revoked = await call(`/approvals/api/grants/${grant.id}/revoke`, 'lead2', { comment: 'batch done' });
    expect(revoked).toMatchObject({ status: 200, body: { state: 'revoked', revoked_by: { subject: 'lead-2' } } });
    expect((await call(`/approvals/api/grants/${grant.id}/revoke`, 'lead', {})).status).toBe(409);
    expect(await t.gw.approvals.service.findGrant({ fingerprint: 'fp-update-phone', normalized: 'UPDATE clinical.patients SET phone = $1 WHERE id = $2', ...agentId })).toBeNull();
    const audit = readFileSync(t.auditFile, 'utf8');
    expect(audit).toContain('"event":"grant_revoked"');
  });

  it('pages through requests and grants with a cursor: each once, newest first; bad paging is a 400', async () => {
    const opened: ApprovalRequest[] = [];
    for (let i = 0; i < 7; i++) opened.push(await open());
    // Four denied, three approved with a grant: seven closed requests, three grants.
    for (const [i, r] of opened.entries()) {
      const body = i < 4 ? { verdict: 'deny' } : { verdict: 'approve', grant_minutes: 5 };
      expect((await call(`/approvals/api/requests/${r.id}/answer`, 'lead', body)).status).toBe(200);
    }
    const walk = async (path: string, key: 'requests' | 'grants', validate: typeof validateRequestPage): Promise<Array<{ id: string; request_id?: string }>[]> => {
      const pages: Array<{ id: string }>[] = [];
      let next: string | null = null;
      do {
        const res = await call(`${path}${next === null ? '' : `&before=${next}`}`, 'lead');
        expect(res.status).toBe(200);
        expect(validate(res.body), JSON.stringify(validate.errors)).toBe(true);
        pages.push(res.body[key]);
        next = res.body.next;
      } while (next !== null && pages.length < 50);
      return pages;
    };
    const history = await walk('/approvals/api/requests?state=closed&limit=3', 'requests', validateRequestPage);
    expect(history.length).toBeGreaterThanOrEqual(3);
    expect(history.every((page) => page.length <= 3)).toBe(true);
    const seen = history.flat().map((r) => r.id);
    expect(new Set(seen).size).toBe(seen.length);
    // Ours, newest first (opened one after the other: later ones are newer, or equal in time with a larger id).
    const ours = seen.filter((id) => opened.some((r) => r.id === id));
    expect(ours).toHaveLength(7);
    const byNewest = [...opened].sort((a, b) => (a.createdAt !== b.createdAt ? (a.createdAt < b.createdAt ? 1 : -1) : a.id < b.id ? 1 : -1));
    expect(ours).toEqual(byNewest.map((r) => r.id));
    // The default page is 50; the history is not counted, the inbox is.
    const first = await call('/approvals/api/requests?state=closed', 'lead');
    expect(first.body).toMatchObject({ total: null });
    expect(first.body.requests.length).toBeLessThanOrEqual(50);
    const pending = [await open(), await open()];
    const inbox = await call('/approvals/api/requests?state=pending&limit=1', 'lead');
    expect(validateRequestPage(inbox.body), JSON.stringify(validateRequestPage.errors)).toBe(true);
    expect(inbox.body.requests).toHaveLength(1);
    expect(inbox.body.next).toEqual(expect.any(String));
    expect(inbox.body.total).toBeGreaterThanOrEqual(2);
    expect((await call('/approvals/api/requests?state=pending', 'nurse')).body).toEqual({ requests: [], next: null, total: 0 });
    for (const r of pending) await call(`/approvals/api/requests/${r.id}/answer`, 'lead', { verdict: 'deny' });

    const grants = await walk('/approvals/api/grants?limit=2', 'grants', validateGrantPage);
    const allGrants = grants.flat() as unknown as Array<{ id: string; request_id: string; created_at: string }>;
    expect(new Set(allGrants.map((g) => g.id)).size).toBe(allGrants.length);
    expect(allGrants.filter((g) => opened.some((r) => r.id === g.request_id)).map((g) => g.request_id).sort()).toEqual(opened.slice(4).map((r) => r.id).sort());
    // Newest grant first: by when it was given, then by id.
    const sorted = [...allGrants].sort((a, b) => (a.created_at !== b.created_at ? (a.created_at < b.created_at ? 1 : -1) : a.id < b.id ? 1 : -1));
    expect(allGrants.map((g) => g.id)).toEqual(sorted.map((g) => g.id));

    for (const path of ['/approvals/api/requests?state=closed&', '/approvals/api/grants?']) {
      for (const bad of ['limit=0', 'limit=501', 'limit=abc', 'before=nonsense', `before=${Buffer.from('["yesterday","x"]').toString('base64url')}`]) {
        const res = await call(`${path}${bad}`, 'lead');
        expect(res.status, `${path}${bad}`).toBe(400);
        expect(res.body.error).toMatch(bad.startsWith('limit') ? /limit must be a whole number from 1 to 500/ : /before is not a cursor/);
      }
    }
  });

  it('serves the page with a strict content security policy', async () => {
    const res = await fetch(`${base}/approvals`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await res.text()).toContain('<script src="/approvals/inbox.js">');
    expect((await fetch(`${base}/approvals/inbox.js`)).headers.get('content-type')).toMatch(/javascript/);
  });
});
