// Red-team round 18c, against slice11 (a simple Query of many statements parsed, decided and audited in
// slices of ~4 ms with setImmediate between them: work-slices.ts, sql/parser.ts analyzeQueryInSlices,
// enforce/statement-evaluation.ts, statement-audit.ts, decision-point.ts concludeDecision). Both engines,
// real PostgreSQL, the raw WireClient. The gateway runs in the test's process, so the analyze cache's
// counters (sql/parser.ts analyzeCacheStats) tell whether a text was analysed, and when: no durations.
//
// Found (each test asserts the SECURE behaviour):
// - R18c-1 (medium, availability; fixed): slice11 slices the decision, but a Query that arrives while a
//   statement of its session is still unanswered upstream is first looked at by pg/statement-order.ts
//   (parkingFor: does it name relations?), which called analyzeQuery on the whole text: parse and the facts
//   of every statement in one turn of the event loop, before the decision. Every pipelined long Query
//   (send `SELECT 1` and a 1,000-statement Query in one write) had its facts (50-100 ms of the 1,000
//   statements' work, docs/data-path.md) extracted in one piece again; and a Query over
//   limits.max_statements_per_query was parsed and analysed whole before the limit refused it (the limit
//   is what keeps issue 11's 40,000-statement Query out of reach: "before anything is parsed"). Fixed:
//   a text of more than one statement (sql/statement-count.ts, an upper bound) is parked without analysis
//   (costs at most the wait for the statements ahead); the decision then analyses it in slices, or the
//   limit refuses it unparsed. Test fails without (2 of 2 per engine).
// - R18c-2 (low, availability and a differential; fixed): a Parse under a prepared statement name in use
//   was checked with analyzeQuery (parse and facts, one turn) before the limits, so a Parse of 1,001+
//   statements under a name in use was analysed whole, and answered 42P05 instead of the limit's 54000;
//   and a Parse of several statements under a name in use was answered 42P05 (duplicate) where PostgreSQL
//   answers 42601 (it refuses several commands before it looks at the name: checked on PostgreSQL 15 with
//   Parse d 'SELECT 1', then Parse d 'SELECT 1; SELECT 2': 42601, then Parse d 'SELECT 3': 42P05). Fixed
//   (pg/duplicate-name.ts): the limits first, PostgreSQL's parse only (no facts), several statements left
//   to the decision point (42601). Test fails without (both parts).
//
// Held (tried or read):
// - Policy activation between slices: evaluateAll takes ctx.engines.current() once for every statement
//   of the string; a re-decision after a stale catalog (checkFresh) decides the whole string again with
//   the engine of that moment; records carry each decision's own stamp. No mixed revision in one string.
// - Catalog between slices: relations and routines pinned for the evaluation (pinnedCatalogs); the checks
//   after the verdicts read the current snapshot, as after a worker evaluation (documented).
// - Later messages of the session during the slices: DecisionWait holds every client message (the framer
//   is not read past the held one; past HELD_BACKLOG_BYTES the socket is paused); the search-path probe
//   holds the client (holdClient) so a path cannot become known half-way through a decision made with the
//   old one; admit() reads the tracker at the end.
// - Records: every statement's record is written (in slices) before the decision resolves; a refusal
//   audits all of them; a throw in a slice rejects, refused fail closed (POLICY_ENGINE_FAILED/INTERNAL).
// Left open here, fixed since (gateway/test/cancel-long-query.test.ts, work-slices.ts SliceStop):
// - A CancelRequest during the slices answered 57014 at once and freed the session, but the abandoned
//   decision ran on to its end and its records were written late; a client repeating long Query +
//   CancelRequest kept several sliced decisions of ONE session alive at once, each holding its parse tree.
//   Now the decision stops at its next slice boundary, its undecided statements recorded once, and the
//   session's next message waits for that run to end.
// Left open (not fixed here, by reading):
// - Many sessions each with a long Query in slices hold their parse trees at once (before, one at a time).

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeCacheStats } from '../src/sql/parser.ts';
import type { AuditRecord } from '../src/audit/types.ts';
import { startTestGateway, type TestGateway } from './support/harness.ts';
import { errorCodes, names, serialize, WireClient } from './support/wire-client.ts';

const TABLE = 'public.rt18c_items';
const AGENT = 'rt18c-agent@example.com';

/** `count` statements reading TABLE, literals distinct from any other text of the run. */
const statements = (count: number, salt: string): string => Array.from({ length: count }, (_, i) => `SELECT ${i} AS n_${salt} FROM ${TABLE}`).join('; ');

describe.each(['rego', 'cedar'] as const)('red-team round 18c (%s): long texts analysed in one turn before the sliced decision', (engine) => {
  let t: TestGateway;
  let w: WireClient;
  let salt = 0;
  const fresh = (): string => `${engine}_${++salt}_${Date.now()}`;

  beforeAll(async () => {
    t = await startTestGateway({ engine });
    const direct = new pg.Client({ connectionString: t.upstreamUrl });
    await direct.connect();
    await direct.query(`DROP TABLE IF EXISTS ${TABLE}; CREATE TABLE ${TABLE} (id integer); INSERT INTO ${TABLE} VALUES (1)`);
    await direct.end();
    w = await WireClient.connect(t.port, await t.token(AGENT, ['agents']));
    // Warm: SELECT 1 is cached, so the counters below move only for the long texts.
    w.send(serialize.query('SELECT 1'));
    await w.untilReady(1);
  }, 60_000);
  afterAll(async () => {
    w?.close();
    await t?.close();
  });

  it('R18c-1: a Query over the statement limit pipelined behind a statement in flight is refused (54000) without being parsed', async () => {
    const before = analyzeCacheStats();
    // One write: SELECT 1 is forwarded, the long Query arrives while it is unanswered (parkingFor).
    w.send(serialize.query('SELECT 1'), serialize.query(statements(1001, fresh())));
    const [first, second] = await w.untilReady(2);
    expect(names(first!)).toContain('dataRow');
    expect(errorCodes(second!)).toEqual(['54000']);
    const after = analyzeCacheStats();
    expect(after.misses - before.misses).toBe(0); // never looked up, so never parsed
    expect(after.size).toBe(before.size);
  });

  it('R18c-1: a 1,000-statement Query pipelined behind a statement in flight is analysed once, by the sliced decision, every statement audited', async () => {
    const s = fresh();
    const before = analyzeCacheStats();
    const recordsBefore = t.audit().length;
    w.send(serialize.query('SELECT 1'), serialize.query(statements(1000, s)));
    const [first, second] = await w.untilReady(2);
    expect(names(first!)).toContain('dataRow');
    expect(second!.some((m) => m.name === 'commandComplete' || m.name === 'error')).toBe(true);
    const after = analyzeCacheStats();
    // SELECT 1: one hit. The long text: one miss (the sliced decision). Without the fix, parkingFor's
    // analyzeQuery missed and the decision then hit the entry it left (two hits).
    expect(after.misses - before.misses).toBe(1);
    expect(after.hits - before.hits).toBe(1);
    const mine = (r: AuditRecord) => r.type === 'statement' && r.identity?.subject === AGENT && r.statement.includes(`n_${s}`);
    const records = await t.auditUntil((rs) => rs.slice(recordsBefore).filter(mine).length >= 1000);
    expect(records.slice(recordsBefore).filter(mine)).toHaveLength(1000);
  });

  it('R18c-2: a Parse of 1,001 statements under a name in use is refused by the limit (54000) without being parsed', async () => {
    const name = `rt18c_${salt + 1}`;
    w.send(serialize.parse({ name, text: 'SELECT 1' }), serialize.sync());
    expect(errorCodes((await w.untilReady(1))[0]!)).toEqual([]);
    const before = analyzeCacheStats();
    w.send(serialize.parse({ name, text: statements(1001, fresh()) }), serialize.sync());
    expect(errorCodes((await w.untilReady(1))[0]!)).toEqual(['54000']);
    const after = analyzeCacheStats();
    expect(after.misses - before.misses).toBe(0);
    expect(after.size).toBe(before.size);
  });

  it('R18c-2: a Parse of several statements under a name in use gets 42601 as from PostgreSQL (several commands refused before the name is looked at)', async () => {
    const name = `rt18c_${salt + 1}`;
    w.send(serialize.parse({ name, text: 'SELECT 1' }), serialize.sync());
    expect(errorCodes((await w.untilReady(1))[0]!)).toEqual([]);
    w.send(serialize.parse({ name, text: statements(2, fresh()) }), serialize.sync());
    expect(errorCodes((await w.untilReady(1))[0]!)).toEqual(['42601']);
    // One statement under the name in use: still the duplicate, as from PostgreSQL.
    w.send(serialize.parse({ name, text: 'SELECT 2' }), serialize.sync());
    expect(errorCodes((await w.untilReady(1))[0]!)).toEqual(['42P05']);
  });
});
