// A client whose connection dropped while its statement was held is told, when it connects again,
// that the request was withdrawn and the statement did not run (a NoticeResponse right after login),
// once; other identities are told nothing about it.

import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { api, pendingRequest, useApprovalGateway } from './support/approvals.ts';

const fx = useApprovalGateway();
const opened: pg.Client[] = [];

// Registered after the gateway's: after-hooks run last-first, so these clients end before it closes.
afterAll(async () => {
  await Promise.all(opened.map((c) => c.end().catch(() => undefined)));
});

/** Connects and collects the notices that arrive until a round trip after login has completed. */
async function noticesAtLogin(token: string): Promise<{ client: pg.Client; notices: string[] }> {
  const notices: string[] = [];
  // Listening before login: the notice may arrive with the first bytes after ReadyForQuery.
  const client = new pg.Client({ host: '127.0.0.1', port: fx.gateway.port, user: 'agent', database: 'postgres', password: token });
  client.on('notice', (n) => notices.push(n.message ?? ''));
  client.on('error', () => undefined);
  await client.connect();
  opened.push(client);
  // The notice is sent right after login; a few round trips give it time to arrive (no timing asserted).
  for (let i = 0; i < 20 && notices.length === 0; i++) {
    await client.query('SELECT 1');
    await new Promise((r) => setTimeout(r, 25));
  }
  return { client, notices };
}

describe('reconnecting after a dropped connection', () => {
  it('names the withdrawn request once, to the same identity only', async () => {
    const agentToken = await fx.gateway.token('agent-drop', ['agents']);
    const first = await fx.gateway.client(agentToken);
    void first.query("UPDATE clinical.patients SET phone = '555-0931' WHERE id = 8").catch(() => undefined);
    const request = await pendingRequest(fx.adminPort, fx.leadToken, "'555-0931'");
    (first as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    for (let i = 0; i < 200; i++) {
      if ((await api(fx.adminPort, `/approvals/api/requests/${request.id}`, fx.leadToken)).body.state === 'withdrawn') break;
      await new Promise((r) => setTimeout(r, 25));
    }
    expect((await api(fx.adminPort, `/approvals/api/requests/${request.id}`, fx.leadToken)).body.state).toBe('withdrawn');

    const other = await noticesAtLogin(await fx.gateway.token('agent-other', ['agents']));
    const again = await noticesAtLogin(agentToken);
    expect(again.notices.join('\n')).toContain(`approval request ${request.id} was withdrawn when your connection dropped`);
    expect(other.notices.join('\n')).not.toContain(request.id);
    const third = await noticesAtLogin(agentToken);
    expect(third.notices.join('\n')).not.toContain(request.id);
  }, 60_000);
});
