// The notification formats and their delivery: the signed document matches its schema and carries no
// literal; the signature verifies and a changed body, key or old timestamp does not; the Slack text
// names the request without the statement's text; a delivery retries 5xx and network errors, not 4xx.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { compileSchemaFile } from '../../schema/validator.ts';
import { heldUpdate } from '../test-fixtures.ts';
import type { ApprovalRequest } from '../types.ts';
import { deliver } from './deliver.ts';
import { notificationDocument } from './event.ts';
import { signBody, verifySignature } from './signature.ts';
import { slackText } from './slack-text.ts';

const validate = compileSchemaFile(new URL('../../../../schemas/approval-notification.schema.json', import.meta.url));

function request(overrides: Partial<ApprovalRequest> = {}): ApprovalRequest {
  return {
    ...heldUpdate({ requester: { subject: 'agent-7', issuer: 'https://idp.test', name: 'Agent <7> & co', groups: ['agents'], roles: [] } }),
    id: '0f6c2f0e-8a55-4d5e-9d4b-1b0b7b7f2a11',
    state: 'pending',
    createdAt: '2026-12-05T08:00:00.000Z',
    expiresAt: '2026-12-05T09:00:00.000Z',
    closedAt: null,
    closedReason: null,
    answers: [],
    grantId: null,
    instanceId: null,
    ...overrides,
  };
}

describe('the signed webhook document', () => {
  it('matches schemas/approval-notification.schema.json and carries no literal or parameter', () => {
    const doc = notificationDocument({ kind: 'requested', request: request() }, '8b1d6c1e-2f3a-4b5c-8d9e-0a1b2c3d4e5f', new Date('2026-12-05T08:00:01Z'), 'http://admin.test/approvals');
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
    const body = JSON.stringify(doc);
    expect(body).not.toContain('555-0100');
    expect(body).not.toContain('SET phone');
    expect(doc.request.statement.fingerprint).toBe('fp-update-phone');
  });

  it('a closed request: the state it closed in and the answers', () => {
    const closed = request({
      state: 'denied',
      closedAt: '2026-12-05T08:05:00.000Z',
      answers: [{ approver: { subject: 'lead-1', issuer: 'https://idp.test', name: null }, verdict: 'deny', comment: 'wrong patient', at: '2026-12-05T08:05:00.000Z', grantSeconds: 0 }],
    });
    const doc = notificationDocument({ kind: 'denied', request: closed }, '8b1d6c1e-2f3a-4b5c-8d9e-0a1b2c3d4e5f', new Date(), null);
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
    expect(doc.event).toBe('denied');
    expect(doc.request.answers[0]).toMatchObject({ verdict: 'deny', comment: 'wrong patient' });
  });
});

describe('the HMAC signature', () => {
  const secret = 'a-secret-of-sixteen+';
  const body = '{"v":1}';
  const now = 1_800_000_000;
  const signature = signBody(secret, now, body);

  it('verifies over the raw body and timestamp', () => {
    expect(signature).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(verifySignature({ secret, body, timestamp: String(now), signature, nowSeconds: now + 10 })).toBe(true);
  });

  it('does not verify with another body, key, timestamp, or when too old', () => {
    expect(verifySignature({ secret, body: '{"v":2}', timestamp: String(now), signature, nowSeconds: now })).toBe(false);
    expect(verifySignature({ secret: `${secret}x`, body, timestamp: String(now), signature, nowSeconds: now })).toBe(false);
    expect(verifySignature({ secret, body, timestamp: String(now + 1), signature, nowSeconds: now })).toBe(false);
    expect(verifySignature({ secret, body, timestamp: String(now), signature, nowSeconds: now + 301 })).toBe(false);
    expect(verifySignature({ secret, body, timestamp: undefined, signature, nowSeconds: now })).toBe(false);
  });
});

describe('the Slack text', () => {
  it('names request, requester, fingerprint, policy reason and page, never the statement text; escapes mrkdwn', () => {
    const text = slackText({ kind: 'requested', request: request() }, 'http://admin.test/approvals');
    expect(text).toContain('0f6c2f0e-8a55-4d5e-9d4b-1b0b7b7f2a11');
    expect(text).toContain('Agent &lt;7&gt; &amp; co (agent-7)');
    expect(text).toContain('fingerprint fp-update-phone');
    expect(text).toContain('writes to clinical.patients need approval');
    expect(text).toContain('<http://admin.test/approvals|');
    expect(text).not.toContain('555-0100');
    expect(text).not.toContain('UPDATE clinical');
  });

  it('says how a request ended', () => {
    expect(slackText({ kind: 'expired', request: request({ state: 'expired', closedReason: 'no answer before the TTL passed' }) }, null)).toMatch(/expired without enough approvals[\s\S]*no answer before the TTL passed/);
  });
});

describe('delivery', () => {
  let server: Server | null = null;
  afterEach(async () => {
    await new Promise<void>((r) => (server === null ? r() : server.close(() => r())));
    server = null;
  });

  async function receiver(statuses: number[]): Promise<{ url: string; hits: () => number }> {
    let n = 0;
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.statusCode = statuses[Math.min(n, statuses.length - 1)]!;
        n++;
        res.end();
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    return { url: `http://127.0.0.1:${(server!.address() as AddressInfo).port}/hook`, hits: () => n };
  }

  const policy = { timeoutMs: 2000, attempts: 4, backoffMs: 10 };
  const attempt = () => ({ body: '{}', headers: {} });

  it('retries 5xx and 429 until it is taken', async () => {
    const r = await receiver([503, 429, 200]);
    expect(await deliver(r.url, policy, attempt, new AbortController().signal)).toEqual({ ok: true, attempts: 3, status: 200 });
    expect(r.hits()).toBe(3);
  });

  it('does not retry a 4xx other than 408 and 429', async () => {
    const r = await receiver([403]);
    expect(await deliver(r.url, policy, attempt, new AbortController().signal)).toMatchObject({ ok: false, attempts: 1, error: 'HTTP 403', final: true });
  });

  it('gives up after its attempts when nothing listens', async () => {
    const r = await receiver([200]);
    const url = r.url;
    await new Promise<void>((done) => server!.close(() => done()));
    server = null;
    const out = await deliver(url, policy, attempt, new AbortController().signal);
    expect(out).toMatchObject({ ok: false, attempts: 4, final: false });
    expect(out.ok ? '' : out.error).toBe('ECONNREFUSED');
  });
});
