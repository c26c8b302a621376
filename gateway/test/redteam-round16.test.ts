// Red-team round 16, against lock16 (the lock prefix: `LOCK TABLE ... NOWAIT` sent ahead of a simple
// Query for the relations its decision checked, enforce/lock-prefix.ts; its CommandCompletes swallowed
// and its 55P03 turned into Gatehouse's refusal, pg/upstream-relay.ts, closing R15-1 for simple Queries).
// Method as in round 15: the R15-1 race made deterministic (a direct transaction holds a row the string's
// first statement updates; a migration turns the table the second statement reads into json, whose
// default btree operator class is a PL function raising the SSN it reads), both engines, real PostgreSQL 15.
//
// Found (each test asserts the SECURE behaviour):
// - R16-1 (medium, fixed): lock16 left the prefix off a string whose first statement is transaction
//   control other than BEGIN/START, and off every statement after a COMMIT/ROLLBACK/PREPARE TRANSACTION in
//   it (documented as not wrapped). An agent under the example policies only had to put `ROLLBACK; ` (a
//   WARNING outside a block) or `COMMIT; ` in front of the round-15 string (or `SELECT 1; COMMIT; `): the
//   migration's ALTER was granted at once, the SELECT queued behind it and ran json's user operator class at
//   its COMMIT, NOTICEs carrying the SSN, exactly R15-1. Fixed (enforce/lock-prefix.ts relationsPastLocks,
//   decision-point.ts): a simple Query string that Gatehouse would wrap and whose statements after the
//   point where the prefix's locks end name a relation the prefix would lock is refused with 0A000 (which
//   relations, why, and "send the statements after that transaction control statement as a query string of
//   their own"); nothing of it runs and every statement gets a `refused` outcome. Strings that end their
//   transaction last (`BEGIN; ...; COMMIT`), or whose later statements name no table, run as before.
// - R16-2 (medium, fixed): ROLLBACK TO was classified as keeping the prefix's locks; it releases every
//   lock taken after its savepoint, and a savepoint set by an earlier Query of the client's block is older
//   than the prefix: `BEGIN; SAVEPOINT a` then `SELECT 1; ROLLBACK TO SAVEPOINT a; UPDATE ...; SELECT ...`
//   had R15-1 back the same way (checked on PostgreSQL 15: `SAVEPOINT s; LOCK ...; ROLLBACK TO s` leaves no
//   lock). Fixed: ROLLBACK TO keeps the locks only for a savepoint the same string set (a stack of the
//   string's SAVEPOINT names, RELEASE popping it, names folded as PostgreSQL folds them; a name not read,
//   e.g. a comment between its words, counts as ending them), so that string is refused under R16-1's rule.
// - R16-3 (medium, fixed; R15-1 through the extended protocol, documented by lock16 as not wrapped):
//   confirmed. A pipeline Parse/Bind/Execute UPDATE (waiting for the row) + Parse/Bind/Execute SELECT +
//   Sync: the SELECT was decided on arrival, the migration was granted, and the SELECT ran json's operator
//   class: SSN in NOTICEs. A LOCK cannot go ahead of an implicit extended-protocol transaction (25P01), and
//   one taken when the SELECT starts would come after a migration that committed while the UPDATE waited.
//   Fixed by lock17: a Query or Execute that names relations waits until the statements ahead of it in the
//   pipeline are answered and is decided then (pg/statement-order.ts), and an Execute that waited gets its
//   relations locked NOWAIT right ahead of it by a DO block of Gatehouse's (enforce/lock-ahead.ts; a LOCK in
//   PL/pgSQL is not top-level and holds to the end of the implicit transaction).
// - R16-4 (low, availability, fixed): `LOCK TABLE` on a partitioned table (or an inheritance parent) locks
//   every partition, where the statement itself, pruned at planning, locks the ones it reads. A string
//   reading one key of a 200-partition table held 200 partition locks from its start (PostgreSQL alone: 1).
//   Every lock past a backend's 16 fast-path slots takes a slot of the server-wide lock table
//   (max_locks_per_transaction 64 x ~110 backends here); a few agent sessions on a table with thousands of
//   partitions can exhaust it and make every backend of the instance fail with 53200 "out of shared memory"
//   (not run: the server is shared with other test files), and a migration on any one partition now refuses
//   strings that never read it (which the decision-time check also did). Fix to consider: `LOCK TABLE ONLY`
//   for partitioned tables (partition-level DDL is still seen by the decision-time check, which follows
//   partitions) or a cap on the relations a prefix may lock (refuse beyond it, as other limits do).
//   Fixed (enforce/lock-prefix.ts): a parent with more than MAX_DESCENDANTS_LOCKED (15) partitions or
//   children is locked with `LOCK TABLE ONLY`; its partitions' DDL locks are still checked at decision
//   time, but a migration on one partition that starts after that is not held off (R15-1's window, for
//   partitions of large partitioned tables only). A view over such a table still locks its partitions
//   (PostgreSQL's LOCK on a view recurses into the tables it reads whatever ONLY says).
// Held: the round-15 string itself (the migration waits for it, the SELECT runs the text it was decided
// with); a comment before BEGIN (the parsed statement text starts at BEGIN: wrapped); ROLLBACK TO a
// savepoint the string itself set keeps the locks (results as PostgreSQL gives them); a relation dropped
// between the decision and the LOCK (since lock17, while the string waits behind the Query ahead, before its decision; PostgreSQL's 42P01 shown for the first statement, position within
// the client's text, though 1 where PostgreSQL would point at the name; the statement audited as that error,
// the statement after it as aborted; the session goes on); an error position in a string reading a masked table (equal to PostgreSQL's). By probing or
// reading, not kept as tests: `LOCK` ahead of `BEGIN ISOLATION LEVEL SERIALIZABLE` or `SET TRANSACTION
// ISOLATION LEVEL` keeps them working (LOCK takes no snapshot; checked directly on PostgreSQL 15); a 55P03
// refusal for a view names the base table PostgreSQL could not lock (from the server's message), but the
// agent can read that name in pg_views/information_schema.view_table_usage anyway (allowed by the example
// policies), and a view over a table the policy does not allow is refused at decision (42501) before any
// LOCK; no masked value can reach the prefix's messages (they quote relation names only); the refusal is
// audited per statement (lock16's own test, and the R16-1 tests for the 0A000 refusal). Not attacked: a
// CancelRequest landing during the prefix (its 57014 would be attributed to the first statement like any
// other prefix error; not timed), NOTICE/ParameterStatus during the prefix (LOCK raises none), relations
// reached through functions or triggers (the decision never checked them either: unchanged by lock16),
// sequences, a catalog with thousands of relations in one string beyond R16-4's reasoning, and a
// `SET ROLE` to a role that may not lock (lock16 documents its 42501).

import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../src/audit/types.ts';
import type { Outcome } from './support/attempt.ts';
import { migrationTablesSql } from './support/user-operator-classes.ts';
import { recorded, type TestGateway } from './support/harness.ts';
import { lockWatchSettled, migrationRace, OURS, ROW_WAITER, until } from './support/migration-race.ts';
import { useCatalogReadBeforeEach, useRedTeamFixture } from './support/redteam-fixture.ts';
import { errorCodes, names, serialize, WireClient, type Message } from './support/wire-client.ts';
import { openRaceSessions } from './support/arrival-race.ts';

const { cleanup: CLEANUP, setup: SETUP } = migrationTablesSql('rt16');

const ALTER = 'public.pgbench_rt16_alter';
const WARM = 'public.pgbench_rt16_warm';
const TO_JSON = `ALTER TABLE ${ALTER} ALTER COLUMN v TYPE json USING v::json`;
const PROBE = `SELECT DISTINCT v FROM ${ALTER} ORDER BY v`;

/**
 * Runs an open finding's body so that only its assertions can make it fail: a setup step that throws
 * (a poll that never came true) is reported and swallowed, so the `it.fails` around it does not pass by
 * chance but is reported as unexpectedly passing.
 */
async function assertsOnly(body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (e) {
    if (e instanceof Error && e.name === 'AssertionError') throw e;
    console.error('the attack did not run, so this open finding was not tested:', e);
  }
}

// pg_locks is the whole server's (other test files run on other databases): this database's backends only.

describe.each(['rego', 'cedar'] as const)('red-team round 16 (%s): the lock prefix', (engine) => {
  const rt = useRedTeamFixture({
    engine,
    database: 'rt16',
    cleanup: CLEANUP,
    setup: SETUP,
    agent: { subject: 'rt16-agent', groups: ['agents', 'bench'] },
  });
  const { attempt } = rt;
  let t: TestGateway, direct: pg.Client, agent: pg.Client, ssn: string;
  beforeAll(() => void ({ gateway: t, direct, agent, ssn } = rt));
  // Each test starts once the agent's statements are decided with a catalog read after the last one's changes.
  const catalogRead = useCatalogReadBeforeEach(rt, `SELECT count(*) FROM ${ALTER}`);

  const upstreamClient = async (): Promise<pg.Client> => {
    const c = new pg.Client({ connectionString: t.upstreamUrl });
    await c.connect();
    return c;
  };

  const race = migrationRace({ alter: ALTER, warm: WARM, direct: () => direct, upstreamUrl: () => t.upstreamUrl, catalogRead });

  it('the probe is live: after the migration, the DISTINCT raises the seeded SSN (sent directly)', async () => {
    await direct.query('BEGIN');
    const notices: string[] = [];
    const listen = (n: { message?: string }): void => void notices.push(n.message ?? '');
    try {
      await direct.query(TO_JSON);
      direct.on('notice', listen);
      await direct.query(PROBE);
      await new Promise((r) => setImmediate(r));
    } finally {
      direct.off('notice', listen);
      await direct.query('ROLLBACK');
      await lockWatchSettled(direct);
    }
    expect(notices.some((n) => n.startsWith('sorted next to') && n.includes(ssn))).toBe(true);
  });

  it('held: the round-15 string itself (UPDATE then SELECT) makes the migration wait for it, and runs the definition it was decided with', async () => {
    const { result, alterWaited } = await race(3, () => attempt(agent, `UPDATE ${WARM} SET v = 'y' WHERE id = 3; ${PROBE}`));
    const o = result as Outcome;
    expect(JSON.stringify(o)).not.toContain(ssn);
    expect(o.code).toBeNull();
    expect(o.notices.filter((n) => n.startsWith('sorted next to'))).toEqual([]);
    expect(alterWaited).toBe(true);
  });

  it('held: a comment before BEGIN (the statement text the regex reads starts at BEGIN): the string is locked, the migration waits', async () => {
    const { result, alterWaited } = await race(4, () => attempt(agent, `/* x */ BEGIN; UPDATE ${WARM} SET v = 'y' WHERE id = 4; ${PROBE}; COMMIT`));
    const o = result as Outcome;
    expect(JSON.stringify(o)).not.toContain(ssn);
    expect(o.notices.filter((n) => n.startsWith('sorted next to'))).toEqual([]);
    expect(alterWaited).toBe(true);
  });

  /** The latest outcome record of each statement text (earlier tests may have run the same shapes). */
  function outcomesOf(records: AuditRecord[], texts: readonly string[]): Array<Extract<AuditRecord, { type: 'outcome' }>['outcome'] | undefined> {
    return texts.map((text) => {
      const stmt = records.filter((r) => r.type === 'statement' && r.statement === recorded(text)).at(-1);
      return records.find((r): r is Extract<AuditRecord, { type: 'outcome' }> => r.type === 'outcome' && stmt?.type === 'statement' && r.decision_id === stmt.decision_id)?.outcome;
    });
  }

  // R16-1: lock16 left the prefix off a string whose first statement is transaction control other than
  // BEGIN/START, and off the statements after a COMMIT/ROLLBACK in it, so an agent put one there and had
  // R15-1 back (the migration granted at once, the SELECT queued behind it ran json's operator class: NOTICEs
  // with the SSN). Fixed: such a string is refused (0A000) when a statement after the locks end names a
  // relation the prefix would lock; nothing of it runs, and each statement is audited as refused.
  for (const [label, statements] of [
    ['a leading ROLLBACK (only a WARNING outside a block)', ['ROLLBACK', `UPDATE ${WARM} SET v = 'r' WHERE id = 11`, PROBE]],
    ['a leading COMMIT', ['COMMIT', `UPDATE ${WARM} SET v = 'r' WHERE id = 11`, PROBE]],
    ['a COMMIT in the middle', ['SELECT 1', 'COMMIT', `UPDATE ${WARM} SET v = 'r' WHERE id = 11`, PROBE]],
  ] as const) {
    it(`R16-1: ${label}: the string is refused (0A000), not run with its later statements unlocked; every statement audited as refused`, async () => {
      const o = await attempt(agent, statements.join('; '));
      expect(o.code).toBe('0A000');
      expect(o.error).toMatch(/^Gatehouse refused this query string: it uses public\.pgbench_rt16_alter, public\.pgbench_rt16_warm after a statement that ends its transaction/);
      expect(((await direct.query(`SELECT v FROM ${WARM} WHERE id = 11`)).rows[0] as { v: string }).v).toBe('x'); // nothing ran
      const found = outcomesOf(await t.auditUntil((r) => outcomesOf(r, statements).every((x) => x !== undefined)), statements);
      for (const x of found) expect(x).toMatchObject({ status: 'refused', sqlstate: '0A000' });
    });
  }

  it('R16-1 (the attack as sent before the fix): a leading ROLLBACK no longer lets the migration in between the decision and the SELECT', async () => {
    const o = await attempt(agent, `ROLLBACK; UPDATE ${WARM} SET v = 'y' WHERE id = 4; ${PROBE}`);
    expect(JSON.stringify(o)).not.toContain(ssn);
    expect(o.notices.filter((n) => n.startsWith('sorted next to'))).toEqual([]);
    expect(o.code).toBe('0A000');
  });

  // R16-2: ROLLBACK TO was classified as keeping the string's locks; it releases every lock taken after its
  // savepoint, and a savepoint of an earlier Query of the block is older than the prefix (the same attack:
  // SSN in NOTICEs). Fixed: ROLLBACK TO keeps them only for a savepoint set earlier in the same string.
  it('R16-2: ROLLBACK TO a savepoint set by an earlier Query, then statements on tables: refused (0A000); the block goes on', async () => {
    await agent.query('BEGIN; SAVEPOINT rt16');
    let o: Outcome;
    try {
      o = await attempt(agent, `SELECT 1; ROLLBACK TO SAVEPOINT rt16; UPDATE ${WARM} SET v = 'y' WHERE id = 5; ${PROBE}`);
    } finally {
      await agent.query('ROLLBACK');
    }
    expect(JSON.stringify(o)).not.toContain(ssn);
    expect(o.code).toBe('0A000');
    expect(o.error).toMatch(/ROLLBACK TO a savepoint set before the string/);
  });

  it('held: ROLLBACK TO a savepoint the same string set keeps the locks: the string runs as PostgreSQL runs it', async () => {
    const sql = `BEGIN; SAVEPOINT s; UPDATE ${WARM} SET v = 'q' WHERE id = 10; ROLLBACK TO SAVEPOINT s; SELECT v FROM ${WARM} WHERE id = 10; SELECT count(*)::int AS n FROM ${ALTER}; COMMIT`;
    const via = (await agent.query(sql)) as unknown as pg.QueryResult[];
    const truth = (await direct.query(sql)) as unknown as pg.QueryResult[];
    expect(via.map((r) => [r.command, r.rowCount, r.rows])).toEqual(truth.map((r) => [r.command, r.rowCount, r.rows]));
    expect(via[4]!.rows).toEqual([{ v: 'x' }]);
  });

  // R16-3: R15-1 through an extended-protocol pipeline. Fixed (pg/statement-order.ts, enforce/lock-ahead.ts):
  // the SELECT is decided only once the UPDATE ahead of it is answered, and its relations are locked (a DO
  // block, NOWAIT) right ahead of it, so the migration granted while the UPDATE waited refuses it (55P03).
  // The migration commits only once the pipeline is answered, or once the SELECT waits behind its lock (as
  // it did before the fix, and then ran json's operator class): a SELECT that is refused cannot be by chance.
  it('R16-3 (R15-1, extended protocol): a pipelined SELECT behind an UPDATE that waits is decided when the UPDATE is answered and refused (55P03) under the migration granted meanwhile, never run on its definition', async () => {
    const token = await t.token('rt16-agent', ['agents', 'bench']);
    const { holder, migration, w, end } = await openRaceSessions({ gateway: t, token });
    const select = `SELECT DISTINCT v FROM ${ALTER} WHERE id > 0 ORDER BY v`;
    const update = `UPDATE ${WARM} SET v = 'y' WHERE id = 6`;
    let groups: Message[][] | undefined;
    let decidedWhileWaiting = true;
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT id FROM ${WARM} WHERE id = 6 FOR UPDATE`);
      const before = t.audit().length;
      w.send(
        serialize.parse({ text: update }),
        serialize.bind({}),
        serialize.execute({}),
        serialize.parse({ text: select }),
        serialize.bind({}),
        serialize.execute({}),
        serialize.sync(),
      );
      const answered = w.untilReady(1).then((g) => (groups = g));
      await until(direct, ROW_WAITER);
      await migration.query('BEGIN');
      await migration.query(TO_JSON); // granted at once: nothing of the pipeline holds the table while the UPDATE waits
      decidedWhileWaiting = t.audit().slice(before).some((r) => r.type === 'statement' && r.statement === recorded(select));
      await holder.query('COMMIT'); // the UPDATE runs; the SELECT is decided now
      const selectWaits = `SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND relation = '${ALTER}'::regclass AND mode = 'AccessShareLock' AND ${OURS}`;
      await until(direct, selectWaits, () => groups !== undefined);
      await migration.query('COMMIT');
      await answered;
    } finally {
      await end();
      await direct.query(`ALTER TABLE ${ALTER} ALTER COLUMN v TYPE text`);
      await lockWatchSettled(direct);
    }
    const group = groups![0]!;
    expect(decidedWhileWaiting).toBe(false); // decided on arrival before the fix
    expect(JSON.stringify(group)).not.toContain(ssn);
    expect(group.filter((m) => m.name === 'notice' && String((m as { message?: string }).message).startsWith('sorted next to'))).toEqual([]);
    expect(names(group)).toEqual(['parseComplete', 'bindComplete', 'commandComplete', 'error', 'readyForQuery']); // refused at its Parse, where PostgreSQL locks
    expect(errorCodes(group)).toEqual(['55P03']);
    const found = outcomesOf(await t.auditUntil((r) => outcomesOf(r, [update, select]).every((x) => x !== undefined)), [update, select]);
    expect(found[0]).toMatchObject({ status: 'ok', command_tag: 'UPDATE 1' });
    expect(found[1]).toMatchObject({ status: 'refused', sqlstate: '55P03' });
  });

  // R16-4: LOCK TABLE on a partitioned table locks every partition; the statement itself, pruned at
  // planning, locks the one it reads.
  it('R16-4: a string reading one partition of a 200-partition table holds no more partition locks than PostgreSQL would take for it', async () => {
    await assertsOnly(async () => {
      const read = `SELECT v FROM public.pgbench_rt16_parted WHERE k = 1`;
      const partitionLocks = (pid: string): string =>
        `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_inherits i ON i.inhrelid = l.relation WHERE i.inhparent = 'public.pgbench_rt16_parted'::regclass AND l.pid = ${pid}`;
      // What PostgreSQL itself takes for the read, in a block on the direct session.
      await direct.query('BEGIN');
      let own: number;
      try {
        await direct.query(read);
        own = ((await direct.query(partitionLocks('pg_backend_pid()'))).rows[0] as { n: number }).n;
      } finally {
        await direct.query('ROLLBACK');
      }
      const holder = await upstreamClient();
      let held = -1;
      try {
        await holder.query('BEGIN');
        await catalogRead();
      await holder.query(`SELECT id FROM ${WARM} WHERE id = 7 FOR UPDATE`);
        const pending = attempt(agent, `UPDATE ${WARM} SET v = 'y' WHERE id = 7; ${read}`);
        await until(direct, ROW_WAITER);
        const waiter = `(SELECT pid FROM pg_locks WHERE NOT granted AND locktype = 'transactionid' AND ${OURS} LIMIT 1)`;
        held = ((await direct.query(partitionLocks(waiter))).rows[0] as { n: number }).n;
        await holder.query('COMMIT');
        expect((await pending).code).toBeNull();
      } finally {
        await holder.query('ROLLBACK').catch(() => undefined);
        await holder.end();
      }
      expect(own).toBe(1);
      expect(held).toBeLessThanOrEqual(own); // was 200 (every partition, before the UPDATE ahead of it had run)
    });
  });

  it('held: an error position in a string reading a masked table counts from the client text (as directly)', async () => {
    const sql = 'SELECT ssn, nosuch FROM clinical.patients';
    const pos = async (c: pg.Client): Promise<string | undefined> => c.query(sql).then(() => 'none', (e: unknown) => (e as pg.DatabaseError).position);
    expect(await pos(agent)).toBe(await pos(direct));
  });

  // Since lock17 a Query behind one still running is decided only once that one is answered
  // (pg/statement-order.ts): the drop made while it waits comes before its decision, not between it and the LOCK.
  it('held: a relation dropped while the string waits behind the Query ahead of it: decided after the drop, PostgreSQL\'s 42P01 for the statement, audited as its error, and the session goes on', async () => {
    const holder = await upstreamClient();
    const w = await WireClient.connect(t.port, await t.token('rt16-agent', ['agents', 'bench']));
    const second = `SELECT v FROM public.pgbench_rt16_drop; SELECT 2 AS two`;
    let groups: Message[][] = [];
    let after: Message[][] = [];
    let decidedBeforeDrop = true;
    try {
      await holder.query('BEGIN');
      await catalogRead();
      await holder.query(`SELECT id FROM ${WARM} WHERE id = 8 FOR UPDATE`);
      w.send(serialize.query(`UPDATE ${WARM} SET v = 'y' WHERE id = 8`), serialize.query(second));
      const before = t.audit().length;
      await until(direct, ROW_WAITER);
      await direct.query('DROP TABLE public.pgbench_rt16_drop');
      decidedBeforeDrop = t.audit().slice(before).some((r) => r.type === 'statement' && r.statement === recorded('SELECT v FROM public.pgbench_rt16_drop'));
      await holder.query('COMMIT');
      groups = await w.untilReady(2);
      // The session goes on (a statement may be refused with 55000 while the catalog read the DROP owes is
      // under way on a loaded machine: asked again until it runs).
      for (let i = 0; i < 100; i++) {
        w.send(serialize.query('SELECT 3 AS three'));
        after = await w.untilReady(1);
        if (errorCodes(after[0]!).join() !== '55000') break;
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      w.close();
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end();
      await direct.query('CREATE TABLE IF NOT EXISTS public.pgbench_rt16_drop (id integer, v text)');
    }
    expect(decidedBeforeDrop).toBe(false);
    expect(names(groups[0]!)).toEqual(['commandComplete', 'readyForQuery']);
    expect(names(groups[1]!)).toEqual(['error', 'readyForQuery']);
    expect(errorCodes(groups[1]!)).toEqual(['42P01']);
    const position = Number((groups[1]![0] as { position?: string }).position ?? '1');
    expect(position).toBeGreaterThanOrEqual(1);
    expect(position).toBeLessThanOrEqual(second.length);
    expect(names(after[0]!)).toEqual(['rowDescription', 'dataRow', 'commandComplete', 'readyForQuery']);
    const records = t.audit();
    const stmt = records.filter((r) => r.type === 'statement' && r.statement === recorded('SELECT v FROM public.pgbench_rt16_drop')).at(-1);
    const outcome = records.find((r): r is Extract<AuditRecord, { type: 'outcome' }> => r.type === 'outcome' && stmt?.type === 'statement' && r.decision_id === stmt.decision_id);
    expect(outcome?.outcome).toMatchObject({ status: 'error', sqlstate: '42P01' });
    // The statement after it did not run: it has an outcome record too ('aborted').
    const [, rest] = outcomesOf(await t.auditUntil((r) => outcomesOf(r, ['SELECT v FROM public.pgbench_rt16_drop', 'SELECT 2 AS two']).every((x) => x !== undefined)), ['SELECT v FROM public.pgbench_rt16_drop', 'SELECT 2 AS two']);
    expect(rest).toEqual({ status: 'aborted' });
  });
});
