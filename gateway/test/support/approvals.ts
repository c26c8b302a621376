// Helpers for the approval scenarios: a gateway with the admin API and the tokens of an agent and an
// approver, the admin API as an approver would call it, and waiting for a held request to appear.

import { afterAll, beforeAll } from 'vitest';
import { startTestGateway, type TestGateway } from './harness.ts';

/** What useApprovalGateway hands out, live from its beforeAll on. */
export interface ApprovalGateway {
  /** A gateway with the example policies, approvals in memory and the admin listener. */
  readonly gateway: TestGateway;
  readonly adminPort: number;
  /** agent-7 in group agents. */
  readonly agentToken: string;
  /** lead-1 in group clinical-leads, an approver of clinical writes. */
  readonly leadToken: string;
}

/** Registers beforeAll/afterAll that start and close the gateway in the current file or describe block. */
export function useApprovalGateway(): ApprovalGateway {
  let live: ApprovalGateway | undefined;
  const started = (): ApprovalGateway => {
    if (live === undefined) throw new Error('the approval gateway has not started: use it in tests and in hooks registered after useApprovalGateway');
    return live;
  };
  beforeAll(async () => {
    const gateway = await startTestGateway({ admin: true });
    live = { gateway, adminPort: gateway.gw.adminPort!, agentToken: await gateway.token('agent-7', ['agents']), leadToken: await gateway.token('lead-1', ['clinical-leads']) };
  }, 120_000);
  afterAll(async () => {
    await live?.gateway.close();
  });
  return {
    get gateway() {
      return started().gateway;
    },
    get adminPort() {
      return started().adminPort;
    },
    get agentToken() {
      return started().agentToken;
    },
    get leadToken() {
      return started().leadToken;
    },
  };
}

export async function api(adminPort: number, path: string, token: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${adminPort}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: await res.json() };
}

/** The pending request whose statement text contains `marker`, once it is there (polls; no timing asserted). */
export async function pendingRequest(adminPort: number, approverToken: string, marker: string): Promise<any> {
  for (let i = 0; i < 400; i++) {
    const { body } = await api(adminPort, '/approvals/api/requests?state=pending', approverToken);
    const found = (body.requests ?? []).find((r: { statement: { text: string } }) => r.statement.text.includes(marker));
    if (found) return found;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no pending request for ${marker}`);
}

