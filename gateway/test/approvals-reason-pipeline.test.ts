// Two more ways a held statement behaves as documented: the requester's reason comes from the
// session's `gatehouse.reason` setting as PostgreSQL holds it (SET, a rolled-back SET, RESET; a
// reason comment wins), and a held Execute in an extended-protocol pipeline holds everything the
// client sent after it, which runs in order once it is approved (raw wire client, one write).

import { describe, expect, it } from 'vitest';
import { api, pendingRequest, useApprovalGateway } from './support/approvals.ts';
import { errorCodes, rowsOf, serialize, WireClient, type Message } from './support/wire-client.ts';

const fx = useApprovalGateway();

async function approve(id: string): Promise<void> {
  const res = await api(fx.adminPort, `/approvals/api/requests/${id}/answer`, fx.leadToken, { verdict: 'approve', comment: '' });
  expect(res.status).toBe(200);
}

describe('the requester reason from gatehouse.reason', () => {
  it('is read as PostgreSQL holds it: SET, undone by ROLLBACK, RESET; a reason comment wins', async () => {
    const agent = await fx.gateway.client(fx.agentToken);
    const reasonOf = async (sql: string, marker: string): Promise<string | null> => {
      const held = agent.query(sql);
      const request = await pendingRequest(fx.adminPort, fx.leadToken, marker);
      await approve(request.id);
      expect((await held).rowCount).toBe(1);
      return request.requester_reason as string | null;
    };
    await agent.query("SET gatehouse.reason = 'ticket 4711: the patient moved'");
    expect(await reasonOf("UPDATE clinical.patients SET phone = '555-0921' WHERE id = 6", "'555-0921'")).toBe('ticket 4711: the patient moved');

    await agent.query('BEGIN');
    await agent.query("SET gatehouse.reason = 'rolled back'");
    await agent.query('ROLLBACK');
    expect(await reasonOf("UPDATE clinical.patients SET phone = '555-0922' WHERE id = 6", "'555-0922'")).toBe('ticket 4711: the patient moved');

    expect(await reasonOf("/* reason: from the comment */ UPDATE clinical.patients SET phone = '555-0923' WHERE id = 6", "'555-0923'")).toBe('from the comment');

    await agent.query('RESET gatehouse.reason');
    expect(await reasonOf("UPDATE clinical.patients SET phone = '555-0924' WHERE id = 6", "'555-0924'")).toBeNull();
  }, 60_000);
});

describe('a held Execute in a pipeline', () => {
  it('holds what follows it, in order, and all of it runs after approval', async () => {
    const c = await WireClient.connect(fx.gateway.port, fx.agentToken);
    const code = `Z${Date.now() % 100000}`;
    c.send(
      serialize.parse({ text: 'UPDATE clinical.patients SET diagnosis_code = $1 WHERE id = 7' }),
      serialize.bind({ values: [code] }),
      serialize.execute({}),
      serialize.sync(),
      serialize.parse({ text: 'SELECT diagnosis_code FROM clinical.patients WHERE id = 7' }),
      serialize.bind({ values: [] }),
      serialize.execute({}),
      serialize.sync(),
      serialize.query('SELECT 42 AS after'),
    );
    // Before approval: the notice naming the request, and nothing of what follows.
    const before: Message[] = [];
    let notice: Message | undefined;
    while (notice === undefined) {
      const m = await c.next();
      before.push(m);
      if (m.name === 'notice') notice = m;
    }
    const id = /request ([0-9a-f-]{36})/.exec(String(notice.text ?? (notice as { message?: string }).message))?.[1];
    expect(id).toBeDefined();
    expect(before.map((m) => m.name)).not.toContain('commandComplete');
    expect(before.map((m) => m.name)).not.toContain('dataRow');
    const request = (await api(fx.adminPort, `/approvals/api/requests/${id}`, fx.leadToken)).body;
    expect(request).toMatchObject({ state: 'pending', statement: { protocol: 'extended', parameters: [code] } });

    await approve(id!);
    const [first, second, third] = await c.untilReady(3);
    const all = [...before, ...first!];
    expect(errorCodes(all)).toEqual([]);
    expect(all.filter((m) => m.name === 'commandComplete').map((m) => m.text)).toEqual(['UPDATE 1']);
    // The SELECT behind the UPDATE ran after it (it sees the new value), then the simple query.
    expect(rowsOf(second!)).toEqual([[code]]);
    expect(rowsOf(third!)).toEqual([['42']]);
    c.close();
  }, 60_000);
});
