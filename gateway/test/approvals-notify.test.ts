// Approval notifications reach real HTTP receivers: a held statement announces its request to a
// signed JSON webhook (the test verifies the HMAC) and a Slack-compatible webhook, and its
// approval announces the conclusion; a receiver that is down at first gets the delivery once it comes
// up (retries); one that never comes up is logged and counted, and the request is unaffected. With the
// memory store and with the PostgreSQL store.

import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { verifySignature } from '../src/approvals/notifications/signature.ts';
import { compileSchemaFile } from '../src/schema/validator.ts';
import { api, pendingRequest } from './support/approvals.ts';
import { startTestGateway, type TestGateway } from './support/harness.ts';

const SECRET = 'test-webhook-secret-0123456789';
const validate = compileSchemaFile(new URL('../../schemas/approval-notification.schema.json', import.meta.url));

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

const servers: Server[] = [];
const gateways: TestGateway[] = [];

afterAll(async () => {
  await Promise.all(gateways.map((g) => g.close()));
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
});

/** A receiver that answers 200 and keeps what it got; on `port` (0: any free one). */
async function receiver(port = 0): Promise<{ port: number; got: Received[] }> {
  const got: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.end('ok');
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, got };
}

/** A port nothing listens on (taken and released). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function until<T>(what: string, find: () => T | undefined): Promise<T> {
  for (let i = 0; i < 600; i++) {
    const v = find();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`never happened: ${what}`);
}

function webhookOf(got: Received[], requestId: string, event: string): Received | undefined {
  return got.find((g) => g.path === '/hook' && (JSON.parse(g.body) as { event: string; request: { id: string } }).event === event && JSON.parse(g.body).request.id === requestId);
}

describe.each(['memory', 'postgres'] as const)('approval notifications (%s store)', (store) => {
  it('a signed webhook and a Slack message on request and on approval; the HMAC verifies; no literal is sent', async () => {
    const r = await receiver();
    const t = await startTestGateway({
      admin: true,
      approvalsStore: store,
      approvalsSettings: {
        notifications: [
          { type: 'webhook', url: `http://127.0.0.1:${r.port}/hook`, secret: SECRET, backoff_ms: 50 },
          { type: 'slack', url: `http://127.0.0.1:${r.port}/slack`, backoff_ms: 50 },
        ],
      },
    });
    gateways.push(t);
    const admin = t.gw.adminPort!;
    const agent = await t.client(await t.token('agent-7', ['agents']));
    const lead = await t.token('lead-1', ['clinical-leads']);
    const marker = `555-07${store === 'memory' ? '11' : '12'}`;
    const held = agent.query(`/* reason: notify test */ UPDATE clinical.patients SET phone = '${marker}' WHERE id = 3`);
    const request = await pendingRequest(admin, lead, marker);

    const hook = await until('the webhook for the new request', () => webhookOf(r.got, request.id, 'requested'));
    expect(verifySignature({ secret: SECRET, body: hook.body, timestamp: hook.headers['x-gatehouse-timestamp'] as string, signature: hook.headers['x-gatehouse-signature'] as string, nowSeconds: Date.now() / 1000 })).toBe(true);
    expect(verifySignature({ secret: 'another-secret-0123456789', body: hook.body, timestamp: hook.headers['x-gatehouse-timestamp'] as string, signature: hook.headers['x-gatehouse-signature'] as string, nowSeconds: Date.now() / 1000 })).toBe(false);
    const doc = JSON.parse(hook.body);
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
    expect(doc).toMatchObject({ event: 'requested', delivery_id: hook.headers['x-gatehouse-delivery'], url: `http://127.0.0.1:${admin}/approvals` });
    expect(doc.request).toMatchObject({ state: 'pending', requester: { subject: 'agent-7' }, statement: { fingerprint: request.statement.fingerprint, kind: 'update', tables_written: ['clinical.patients'] }, requester_reason: 'notify test' });
    expect(hook.body).not.toContain(marker);

    const slack = await until('the Slack message for the new request', () => r.got.find((g) => g.path === '/slack' && g.body.includes(request.id)));
    const text = (JSON.parse(slack.body) as { text: string }).text;
    expect(text).toContain('needs approval');
    expect(text).toContain('agent-7');
    expect(text).toContain(request.statement.fingerprint);
    expect(text).toContain(request.policy.reason);
    expect(text).toContain(`http://127.0.0.1:${admin}/approvals`);
    expect(text).not.toContain(marker);

    const answered = await api(admin, `/approvals/api/requests/${request.id}/answer`, lead, { verdict: 'approve', comment: 'ok' });
    expect(answered.status).toBe(200);
    expect((await held).rowCount).toBe(1);
    const closed = JSON.parse((await until('the webhook for the approval', () => webhookOf(r.got, request.id, 'approved'))).body);
    expect(closed.request).toMatchObject({ state: 'approved', answers: [{ approver: { subject: 'lead-1' }, verdict: 'approve', comment: 'ok' }] });
    const slackClosed = await until('the Slack message for the approval', () => r.got.find((g) => g.path === '/slack' && g.body.includes(request.id) && g.body.includes('was approved')));
    expect(slackClosed.body).not.toContain(marker);
    // Exactly one delivery per event and target.
    expect(r.got.filter((g) => g.body.includes(request.id))).toHaveLength(4);
  }, 120_000);

  it('a receiver down at first gets the delivery when it comes up; one that never does is counted as failed; the request goes on', async () => {
    const late = await freePort();
    const never = await freePort();
    const t = await startTestGateway({
      admin: true,
      approvalsStore: store,
      approvalsSettings: {
        notifications: [
          { type: 'webhook', url: `http://127.0.0.1:${late}/hook`, secret: SECRET, backoff_ms: 100, attempts: 10 },
          { type: 'webhook', url: `http://127.0.0.1:${never}/hook`, secret: SECRET, backoff_ms: 10, attempts: 2 },
        ],
      },
    });
    gateways.push(t);
    const admin = t.gw.adminPort!;
    const agent = await t.client(await t.token('agent-7', ['agents']));
    const lead = await t.token('lead-1', ['clinical-leads']);
    const marker = `555-08${store === 'memory' ? '11' : '12'}`;
    const held = agent.query(`UPDATE clinical.patients SET phone = '${marker}' WHERE id = 4`);
    const request = await pendingRequest(admin, lead, marker);
    // The first attempt (made when the request was opened) found nothing listening.
    await new Promise((r) => setTimeout(r, 250));
    const r = await receiver(late);
    const hook = await until('the retried webhook', () => webhookOf(r.got, request.id, 'requested'));
    expect(Number(hook.headers['x-gatehouse-attempt'])).toBeGreaterThan(1);
    expect(verifySignature({ secret: SECRET, body: hook.body, timestamp: hook.headers['x-gatehouse-timestamp'] as string, signature: hook.headers['x-gatehouse-signature'] as string, nowSeconds: Date.now() / 1000 })).toBe(true);

    const metrics = async (): Promise<string> => (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
    let text = '';
    // The receiver has the delivery before its sender counts it as sent: wait for both counts.
    const counted = (t: string): boolean =>
      /gatehouse_approval_notifications_total\{target="webhook",outcome="failed"\} 1\b/.test(t) && /gatehouse_approval_notifications_total\{target="webhook",outcome="sent"\} 1\b/.test(t);
    for (let i = 0; i < 400 && !counted(text); i++) {
      text = await metrics();
      await new Promise((res) => setTimeout(res, 25));
    }
    expect(text).toMatch(/gatehouse_approval_notifications_total\{target="webhook",outcome="failed"\} 1\b/);
    expect(text).toMatch(/gatehouse_approval_notifications_total\{target="webhook",outcome="sent"\} 1\b/);

    expect((await api(admin, `/approvals/api/requests/${request.id}`, lead)).body.state).toBe('pending');
    expect((await api(admin, `/approvals/api/requests/${request.id}/answer`, lead, { verdict: 'approve', comment: 'ok' })).status).toBe(200);
    expect((await held).rowCount).toBe(1);
    await until('the approval delivered too', () => webhookOf(r.got, request.id, 'approved'));
  }, 120_000);
});
