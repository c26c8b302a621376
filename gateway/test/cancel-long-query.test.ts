// A CancelRequest during a long Query's decision in slices (red-team round 18c, the open finding): the
// abandoned decision stops at its next slice boundary (work-slices.ts SliceStop), every statement of the
// string still has exactly one statement record (those not decided recorded as such, outcome 57014), and
// the session's next message is decided only once the abandoned decision has stopped (one sliced decision
// per session at a time). Both engines, real PostgreSQL, the raw WireClient.
//
// No durations are asserted. The CancelRequest is sent from inside the decision, at its 50th evaluation
// (the decision cache's lookups, one per statement: the cache keeps nothing, so each statement is asked);
// until the client has its 57014, each further evaluation also waits 1 ms, so the decision is still in
// its slices when the cancel lands (unless a loopback cancel takes over ~950 ms) instead of racing it.
// Without the stop, all 1,000 are evaluated (both tests fail on the count). The wait of the next message
// behind the stopping run is tested in gateway/src/pg/decision-wait.test.ts.

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DecisionCache } from '../src/enforce/decision-cache.ts';
import type { AuditRecord } from '../src/audit/types.ts';
import type { EngineVerdict } from '../src/policy/types.ts';
import { startTestGateway, type TestGateway } from './support/harness.ts';
import { errorCodes, rowsOf, serialize, WireClient } from './support/wire-client.ts';

const TABLE = 'public.cancel_long_items';
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** A decision cache that keeps nothing and counts its lookups; `armed`: calls `at` at lookup `atLookup`, slows lookups until `landed`. */
class CountingCache extends DecisionCache {
  lookups = 0;
  armed: { atLookup: number; at: () => void; landed: () => boolean } | null = null;
  constructor() {
    super({ maxEntries: 0 });
  }
  override get(revision: string, key: string): EngineVerdict | null {
    const armed = this.armed;
    if (armed !== null) {
      this.lookups++;
      if (this.lookups === armed.atLookup) armed.at();
      if (this.lookups > armed.atLookup && !armed.landed()) Atomics.wait(sleeper, 0, 0, 1);
    }
    return super.get(revision, key);
  }
}

describe.each(['rego', 'cedar'] as const)('a CancelRequest during a long Query decided in slices (%s)', (engine) => {
  let t: TestGateway;
  const cache = new CountingCache();
  const agent = `cancel-long-${engine}@example.com`;

  beforeAll(async () => {
    t = await startTestGateway({ engine, decisionCache: cache });
    const direct = new pg.Client({ connectionString: t.upstreamUrl });
    await direct.connect();
    await direct.query(`DROP TABLE IF EXISTS ${TABLE}; CREATE TABLE ${TABLE} (id integer)`);
    await direct.end();
  }, 60_000);
  afterAll(async () => t?.close());

  it('stops the abandoned decision early, records each of the 1,000 statements once, and decides the next message after it stopped', async () => {
    const w = await WireClient.connect(t.port, await t.token(agent, ['agents']));
    w.send(serialize.query('SELECT 1'));
    await w.untilReady(1);
    const salt = `${engine}_${Date.now()}`;
    const long = Array.from({ length: 1000 }, (_, i) => `SELECT ${i} AS n_${salt} FROM ${TABLE}`).join('; ');
    const before = t.audit().length;
    let landed = false;
    cache.lookups = 0;
    cache.armed = { atLookup: 50, at: () => void w.cancel(), landed: () => landed };
    // The next Query is in the same write: held while the long one is decided.
    w.send(serialize.query(long), serialize.query(`SELECT 'x' AS after_cancel_${salt}`));
    const [cancelled] = await w.untilReady(1);
    landed = true;
    expect(errorCodes(cancelled!)).toEqual(['57014']);
    const [next] = await w.untilReady(1);
    expect(rowsOf(next!)).toEqual([['x']]);
    cache.armed = null;
    // Stopped at the slice boundary after the cancel: far from all 1,000 asked.
    expect(cache.lookups).toBeGreaterThanOrEqual(50);
    expect(cache.lookups).toBeLessThan(500);

    const isLong = (r: AuditRecord): boolean => r.type === 'statement' && r.identity?.subject === agent && r.statement.includes(`n_${salt}`);
    const idOf = (r: AuditRecord): string => (r.type === 'statement' || r.type === 'outcome' ? r.decision_id : '');
    const ids = (rs: AuditRecord[]): Set<string> => new Set(rs.slice(before).filter(isLong).map(idOf));
    const outcomesOf = (rs: AuditRecord[], of: Set<string>) => rs.slice(before).filter((r) => r.type === 'outcome' && of.has(r.decision_id));
    const records = await t.auditUntil((rs) => outcomesOf(rs, ids(rs)).length >= 1000);
    const fresh = records.slice(before);
    const mine = fresh.filter(isLong);
    // One statement record per statement, each with its own decision and one outcome: refused 57014.
    expect(mine).toHaveLength(1000);
    expect(ids(records).size).toBe(1000);
    const outcomes = outcomesOf(records, ids(records));
    expect(outcomes).toHaveLength(1000);
    expect(new Set(outcomes.map(idOf)).size).toBe(1000);
    for (const o of outcomes) expect(o.type === 'outcome' ? o.outcome : null).toEqual({ status: 'refused', sqlstate: '57014' });
    // Those never decided say so (deny, gatehouse.decision_stopped): here all, stopped while evaluated.
    const stopped = mine.filter((r) => r.type === 'statement' && r.decision === 'deny' && r.policies.includes('gatehouse.decision_stopped'));
    expect(stopped.length).toBeGreaterThan(500);
    // The next message was decided after the abandoned decision stopped and wrote its records.
    const nextAt = fresh.findIndex((r) => r.type === 'statement' && r.statement.includes(`after_cancel_${salt}`));
    const lastLong = fresh.reduce((at, r, i) => (isLong(r) ? i : at), -1);
    expect(nextAt).toBeGreaterThan(lastLong);
    w.close();
  });

  it('a client that leaves during the slices: the decision stops, each of the 1,000 statements recorded once, aborted', async () => {
    const w = await WireClient.connect(t.port, await t.token(agent, ['agents']));
    w.send(serialize.query('SELECT 1'));
    await w.untilReady(1);
    const open = t.gw.sessions();
    const salt = `${engine}_gone_${Date.now()}`;
    const long = Array.from({ length: 1000 }, (_, i) => `SELECT ${i} AS n_${salt} FROM ${TABLE}`).join('; ');
    const before = t.audit().length;
    cache.lookups = 0;
    // Until the gateway has ended the session, each further evaluation waits 1 ms (see the header).
    cache.armed = { atLookup: 50, at: () => w.close(), landed: () => t.gw.sessions() < open };
    w.send(serialize.query(long));
    for await (const m of w.untilClosed()) expect(m.name).not.toBe('dataRow');
    const isLong = (r: AuditRecord): boolean => r.type === 'statement' && r.identity?.subject === agent && r.statement.includes(`n_${salt}`);
    const idOf = (r: AuditRecord): string => (r.type === 'statement' || r.type === 'outcome' ? r.decision_id : '');
    const ids = (rs: AuditRecord[]): Set<string> => new Set(rs.slice(before).filter(isLong).map(idOf));
    const outcomesOf = (rs: AuditRecord[], of: Set<string>) => rs.slice(before).filter((r) => r.type === 'outcome' && of.has(r.decision_id));
    const records = await t.auditUntil((rs) => outcomesOf(rs, ids(rs)).length >= 1000);
    cache.armed = null;
    expect(cache.lookups).toBeGreaterThanOrEqual(50);
    expect(cache.lookups).toBeLessThan(500);
    expect(records.slice(before).filter(isLong)).toHaveLength(1000);
    const outcomes = outcomesOf(records, ids(records));
    expect(new Set(outcomes.map(idOf)).size).toBe(1000);
    expect(outcomes).toHaveLength(1000);
    for (const o of outcomes) expect(o.type === 'outcome' ? o.outcome : null).toEqual({ status: 'aborted' });
  });
});
