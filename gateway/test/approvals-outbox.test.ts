// The shared notification outbox: with the PostgreSQL store, a change queues its notifications in
// its own transaction, and any live instance delivers them. A request opened on an instance that
// stops before its receiver answers is still announced, by the other instance, with the same
// delivery id; a claim left unfinished by an instance that died is taken over when its lease ends.

import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { targetKey } from '../src/approvals/notifications/notifier.ts';
import { verifySignature } from '../src/approvals/notifications/signature.ts';
import { openPostgresStore } from '../src/approvals/postgres-store.ts';
import { ApprovalService } from '../src/approvals/service.ts';
import { heldUpdate } from '../src/approvals/test-fixtures.ts';
import { startTestGateway, type TestGateway } from './support/harness.ts';

const SECRET = 'outbox-webhook-secret-0123456789';

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

let server: Server;
let up = false;
const got: Received[] = [];
let url = '';
let a: TestGateway;
let b: TestGateway;
let bClosed = false;

beforeAll(async () => {
  // Answers 503 (a retryable failure) until `up`; then 200, keeping what it got.
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (!up) {
        res.statusCode = 503;
        res.end('down');
        return;
      }
      got.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  const approvalsSettings = { notifications: [{ type: 'webhook', url, secret: SECRET, backoff_ms: 50, attempts: 20 }] };
  a = await startTestGateway({ admin: true, approvalsStore: 'postgres', approvalsSettings });
  b = await startTestGateway({ admin: true, approvalsStore: 'postgres', approvalsSettings, upstreamUrl: a.upstreamUrl });
}, 180_000);

afterAll(async () => {
  await Promise.all([a?.close(), bClosed ? undefined : b?.close()]);
  await new Promise<void>((r) => server.close(() => r()));
});

async function until<T>(what: string, find: () => T | undefined | Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 1200; i++) {
    const v = await find();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`never happened: ${what}`);
}

const eventsFor = (id: string): Array<{ event: string; delivery: string; attempt: number }> =>
  got
    .map((g) => ({ doc: JSON.parse(g.body) as { event: string; delivery_id: string; request: { id: string } }, g }))
    .filter(({ doc }) => doc.request.id === id)
    .map(({ doc, g }) => ({ event: doc.event, delivery: g.headers['x-gatehouse-delivery'] as string, attempt: Number(g.headers['x-gatehouse-attempt']) }));

describe('the shared notification outbox', () => {
  it('a request opened on an instance that stops before its receiver answers is announced by the other instance', async () => {
    const revision = b.gw.engine().revision;
    const request = await b.gw.approvals.service.open({ ...heldUpdate(), policy: { ...heldUpdate().policy, revision } });
    const direct = new pg.Client({ connectionString: a.upstreamUrl });
    await direct.connect();
    try {
      // At least one attempt failed (503) before the instance stops.
      await until('a failed attempt', async () => {
        const res = await direct.query("SELECT attempts FROM gatehouse.approval_outbox WHERE doc->>'id' = $1 AND kind = 'requested' AND attempts > 0 AND claimed_until IS NULL", [request.id]);
        return res.rows.length === 1 ? true : undefined;
      });
      await b.close();
      bClosed = true;
      up = true;
      const delivered = await until('the requested event', () => eventsFor(request.id).find((e) => e.event === 'requested'));
      expect(delivered.attempt).toBeGreaterThan(1);
      // The sender records the outcome after the receiver has answered: wait for it, then check it.
      const row = await until('the outcome recorded', async () => {
        const r = (await direct.query("SELECT id, outcome FROM gatehouse.approval_outbox WHERE doc->>'id' = $1 AND kind = 'requested'", [request.id])).rows[0];
        return r?.outcome === null ? undefined : r;
      });
      expect(row).toEqual({ id: delivered.delivery, outcome: 'sent' });
      const hook = got.find((g) => g.headers['x-gatehouse-delivery'] === delivered.delivery)!;
      expect(verifySignature({ secret: SECRET, body: hook.body, timestamp: hook.headers['x-gatehouse-timestamp'] as string, signature: hook.headers['x-gatehouse-signature'] as string, nowSeconds: Date.now() / 1000 })).toBe(true);
      // Closed on the live instance: announced once, by whichever instance claims it.
      await a.gw.approvals.service.withdraw(request.id, 'test over');
      await until('the withdrawn event', () => eventsFor(request.id).find((e) => e.event === 'withdrawn'));
      await new Promise((r) => setTimeout(r, 300));
      expect(eventsFor(request.id).map((e) => e.event)).toEqual(['requested', 'withdrawn']);
    } finally {
      await direct.end();
    }
  }, 120_000);

  it('a claim its instance never finished is taken over when its lease ends (at-least-once, same delivery id)', async () => {
    // A target of this run only: items of earlier runs are not in its way.
    const key = `webhook:lease-test-${randomUUID()}`;
    const store = await openPostgresStore({ url: a.upstreamUrl, outboxTargets: [key] });
    try {
      const service = new ApprovalService({ store, audit: () => undefined, activeRevision: () => 'rev-1' });
      const request = await service.open(heldUpdate());
      const [first] = await store.claimNotifications([key], 10, 1);
      expect([first?.request.id, first?.kind, first?.attempts]).toEqual([request.id, 'requested', 1]);
      // Claimed: nobody else gets it while the lease lasts.
      expect(await store.claimNotifications([key], 10, 1)).toEqual([]);
      const again = await until('the lease to end', async () => (await store.claimNotifications([key], 10, 1))[0]);
      expect([again.id, again.attempts]).toEqual([first!.id, 2]);
      await store.finishNotification(again.id, { outcome: 'sent' });
      expect(await store.claimNotifications([key], 10, 0)).toEqual([]);
      // Other targets' items are not claimed by an instance without them.
      expect((await store.claimNotifications([targetKey({ kind: 'slack', url: 'https://hooks.invalid/x', delivery: { timeoutMs: 1000, attempts: 1, backoffMs: 10 } })], 10, 1)).filter((i) => i.request.id === request.id)).toEqual([]);
      await service.withdraw(request.id, 'test over');
    } finally {
      await store.close();
    }
  });
});
