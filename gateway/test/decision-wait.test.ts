// A session waiting for a decision (an evaluation elsewhere, later an approval) holds what its
// client sends after the statement and answers it in order once decided; other sessions go on; a
// CancelRequest refuses the waiting statement (57014); a client that leaves meanwhile is audited.

import { sendCancelRequest } from './support/cancel-request.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HeldEvaluator } from './support/held-evaluator.ts';
import { recorded, startTestGateway, type TestGateway } from './support/harness.ts';
import { errorCodes, names, rowsOf, serialize, WireClient } from './support/wire-client.ts';

describe('waiting for a decision', () => {
  const evaluator = new HeldEvaluator();
  let t: TestGateway;
  let token: string;

  beforeAll(async () => {
    t = await startTestGateway({ evaluator, decisionCache: HeldEvaluator.noCache() });
    token = await t.token('agent-wait', ['agents']);
  });
  afterAll(async () => {
    evaluator.releaseAll();
    await t?.close();
  });

  it('holds the messages pipelined after a waiting statement and answers all in order, while another session is served', async () => {
    const w = await WireClient.connect(t.port, token);
    w.send(
      serialize.query('SELECT 1 AS held_first'),
      serialize.parse({ name: 'p', text: 'SELECT 2 AS second' }),
      serialize.bind({ statement: 'p' }),
      serialize.execute({}),
      serialize.sync(),
      serialize.query("SELECT 'third' AS third; SELECT 4 AS held_fourth"),
    );
    await evaluator.held(1);
    const other = await t.client(token);
    expect((await other.query('SELECT 1 AS n')).rows).toEqual([{ n: 1 }]);
    evaluator.releaseAll();
    await evaluator.held(1); // the second held statement is reached only after the first was answered
    evaluator.releaseAll();
    const groups = await w.untilReady(3);
    expect(groups.map(rowsOf)).toEqual([[['1']], [['2']], [['third'], ['4']]]);
    expect(groups.map(errorCodes)).toEqual([[], [], []]);
    w.close();
  });

  it('stops reading a client whose messages pile up behind a waiting statement, and reads on once it is decided', async () => {
    const w = await WireClient.connect(t.port, token);
    w.send(serialize.query('SELECT 1 AS held_backlog'));
    await evaluator.held(1);
    // 48 MiB behind the waiting statement: four Queries over the statement size limit (54000 each).
    const big = serialize.query(`-- ${'x'.repeat(12 * 1024 * 1024)}`);
    const sent = 4 * big.length;
    for (let i = 0; i < 4; i++) w.send(big);
    w.send(serialize.query('SELECT 5 AS after_backlog'));
    // Until the client's socket stops draining: Gatehouse has stopped reading it.
    let unsent = w.unsent;
    for (let still = 0; still < 5 && unsent > 0; ) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      still = w.unsent === unsent ? still + 1 : 0;
      unsent = w.unsent;
    }
    // What left the client sits in kernel socket buffers (a few MiB on loopback) and in Gatehouse's
    // bounded backlog; reading everything would have emptied the client's buffer.
    expect(sent - unsent).toBeLessThan(24 * 1024 * 1024);
    const other = await t.client(token);
    expect((await other.query('SELECT 1 AS n')).rows).toEqual([{ n: 1 }]);
    await other.end();
    evaluator.releaseAll();
    const groups = await w.untilReady(6);
    expect(rowsOf(groups[0]!)).toEqual([['1']]);
    expect(groups.slice(1, 5).map(errorCodes)).toEqual([['54000'], ['54000'], ['54000'], ['54000']]);
    expect(rowsOf(groups[5]!)).toEqual([['5']]);
    w.close();
  });

  it('a CancelRequest refuses the waiting statement with 57014, and the session goes on', async () => {
    const c = await t.client(token);
    const keys = c as unknown as { processID: number; secretKey: number };
    const pending = c.query('SELECT 1 AS held_cancelled').then(
      () => null,
      (e: { code?: string }) => e.code ?? 'no code',
    );
    await evaluator.held(1);
    await sendCancelRequest(t.port, keys.processID, keys.secretKey);
    expect(await pending).toBe('57014');
    expect((await c.query('SELECT 5 AS n')).rows).toEqual([{ n: 5 }]);
    evaluator.releaseAll(); // the late decision is only audited
    const records = await t.auditUntil((rs) => rs.some((r) => r.type === 'statement' && r.statement === recorded('SELECT 1 AS held_cancelled')));
    const decided = records.find((r) => r.type === 'statement' && r.statement === recorded('SELECT 1 AS held_cancelled'));
    const id = decided?.type === 'statement' ? decided.decision_id : '';
    const outcomes = await t.auditUntil((rs) => rs.some((r) => r.type === 'outcome' && r.decision_id === id));
    const outcome = outcomes.find((r) => r.type === 'outcome' && r.decision_id === id);
    expect(outcome?.type === 'outcome' ? outcome.outcome : null).toEqual({ status: 'refused', sqlstate: '57014' });
  });

  it('a client that disconnects while its statement waits is audited as aborted, and nothing runs', async () => {
    const w = await WireClient.connect(t.port, token);
    w.send(serialize.query('SELECT 1 AS held_gone'));
    await evaluator.held(1);
    w.close();
    for await (const m of w.untilClosed()) expect(names([m])).not.toContain('dataRow');
    evaluator.releaseAll();
    const records = await t.auditUntil((rs) => {
      const s = rs.find((r) => r.type === 'statement' && r.statement === recorded('SELECT 1 AS held_gone'));
      return s !== undefined && rs.some((r) => r.type === 'outcome' && s.type === 'statement' && r.decision_id === s.decision_id);
    });
    const s = records.find((r) => r.type === 'statement' && r.statement === recorded('SELECT 1 AS held_gone'));
    const o = records.find((r) => r.type === 'outcome' && s?.type === 'statement' && r.decision_id === s.decision_id);
    expect(o?.type === 'outcome' ? o.outcome : null).toEqual({ status: 'aborted' });
  });
});
