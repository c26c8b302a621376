// Red-team round 15, against lock15 (statements behind another backend's DDL lock refused with 55P03:
// pg/ddl-locks.ts, enforce/table-locks.ts), hot15 (messages framed as their place in the received chunk:
// wire/framer.ts ChunkFrame, OutputBatch.pushSlice) and fsync15 (any successful flush confirms every batch
// written before it began; three flushes in flight).
//
// Found (each test asserts the SECURE behaviour):
// - R15-1 (medium, lock15 does not close it): the lock check runs when a statement is decided, not when
//   PostgreSQL takes the statement's relation locks, and the client chooses the time between the two. A
//   query string is decided whole before any of it runs, so its second statement is decided at once and
//   takes its locks only when the first has finished; the first can wait as long as the client likes
//   (here an UPDATE waiting for a row another transaction holds; any slow query would do; an extended-
//   protocol pipeline is decided on arrival the same way). A migration that altered the second statement's
//   table meanwhile (directly on the server, or through Gatehouse) was never seen by that decision: the
//   statement queued behind the migration's lock inside PostgreSQL and ran the new definition at COMMIT:
//   `ALTER COLUMN v TYPE json` then ran json's user default operator class under an agent's DISTINCT, and
//   its NOTICE carried the SSN it read. The poll interval was not the bound: the window is as long as the
//   string's earlier statements run. What PostgreSQL offers (checked on PostgreSQL 15 here): `LOCK TABLE
//   ... IN ACCESS SHARE MODE NOWAIT` is accepted in a multi-statement string's implicit transaction, fails
//   at once with 55P03 while another backend holds or waits for ACCESS EXCLUSIVE (a waiting ALTER counts),
//   and then holds the lock until the string's transaction ends. `lock_timeout` is no substitute for writes:
//   it also fires on row locks (`canceling statement due to lock timeout ... while updating tuple`, 55P03).
//   Fixed by lock16 for the simple protocol (enforce/lock-prefix.ts): Gatehouse prepends `LOCK TABLE ...
//   NOWAIT` for the relations the decision checked (ACCESS SHARE for reads, ROW EXCLUSIVE for writes) to
//   the forwarded string, swallows its CommandCompletes, and turns its 55P03 into its own refusal (every
//   statement audited as refused, with the reason). Tested both ways: the migration arriving while the
//   string runs now waits for it (the SELECT runs the text definition it was decided with), and a migration
//   that took its lock after a pipelined Query's decision but before it started gets Gatehouse's 55P03.
//   Left open (docs/data-path.md): the extended protocol (`LOCK TABLE` outside a transaction block is 25P01
//   there: a Parse/Bind/Execute of it cannot go ahead of a batch's implicit transaction), strings Gatehouse
//   does not wrap (DDL, maintenance) and relations the upstream role cannot lock (statements after a
//   COMMIT/ROLLBACK inside the string were open too, until round 16 refused such strings: R16-1, R16-2); a change committed between the decision and the LOCK is still the
//   snapshot's ordinary staleness.
// - R15-2 (medium, lock15): a write through an updatable view was not checked against the view's base
//   table's locks: lockedRelationsNamed() followed partitions and children but not views, and view-locks.ts
//   marks a view only for ACCESS EXCLUSIVE. While a migration had `CREATE TRIGGER ... ON base` open
//   (SHARE ROW EXCLUSIVE; likewise CREATE INDEX's SHARE), an agent's INSERT into the view was decided
//   without the trigger, queued behind the lock and fired it at COMMIT (the trigger's NOTICE carried the
//   SSN it read; the example policy `deny-unreviewed-triggers` would have refused the INSERT had the
//   decision seen it), while the same INSERT naming the base table was refused with 55P03. Fixed
//   (enforce/table-locks.ts): a write naming a view is checked against every relation the view reads
//   (RelationInfo.reads, transitively, with their partitions and children), all counted as written.
// - R15-4 (medium, older than lock15, next to R14-3): CREATE INDEX CONCURRENTLY takes SHARE UPDATE
//   EXCLUSIVE, which the DDL lock watch does not follow (autovacuum takes it too), and its index is
//   maintained by every write from its second internal transaction's commit on, long before the command
//   ends and `db setup`'s event trigger announces it; CIC then waits for every older snapshot in the
//   database, as long as one lives. Meanwhile an agent's INSERT was decided without the index and ran its
//   user operator class (FOR TYPE integer on a PL function, as in R14-1): four NOTICEs with the SSN. Fixed
//   (pg/ddl-locks.ts, pg/relation-snapshot.ts): the poll also reads the indexes not yet valid
//   (`pg_index.indisvalid`) and asks for a new relation snapshot when they differ from those it was read
//   with; the next statement is decided with the index's operator class in sight and refused (42501). Left:
//   a write within one poll (250 ms) of the index becoming ready, as for locks taken directly on the server.
// Held: two sessions of one identity do not share the own-pid exemption (the second is refused 55P03
// while the first has an ALTER TABLE open through Gatehouse); a write naming the locked base table itself
// (55P03); agents cannot take DDL-mode locks themselves under the example policies (LOCK, TRUNCATE, DDL,
// VACUUM are not permitted statements), so the lock-holding denial of service needs a role that may; a
// pooled connection's own pid (a lock of the previous client's transaction is rolled back by the reset
// before the next client's statement runs: checked by reading pool14's reset, not tested); lock flapping
// (a direct client taking and releasing SHARE on a table every 130 ms while an agent ran 2,500 statements:
// median 1.28 -> 0.80 ms, p99 12.1 -> 9.2 ms, i.e. no measurable effect on this small catalog, loaded
// machine, measured once with a throwaway test, not kept). hot15: detector-rewritten DataRows (an SSN in
// visit notes of 300 sizes up to ~40 kB) around a 3 MB value and masked rows in one query string, and
// 3,000 plain rows compared with direct PostgreSQL's: nothing raw, everything else identical; the same
// notes through the extended protocol; by reading: no frame is spread (`{...frame}` would lose ChunkFrame's
// getters), rewritten messages are new objects without chunk/at (scrubbed(), dataRow()), and received
// chunks are never written to. fsync15: on this merge, the kill -9 under pgbench load test
// (audit-crash.test.ts: every statement PostgreSQL logged has a durable record, `gatehouse audit verify`
// passes) and the unit fault tests (append-file, file-sink.flush-failed) pass; by reading, records are
// written with writeSync before any flush that counts them starts, and a flush's success counts only the
// batches written before it began.
// Not attacked: R15-1 through an extended-protocol pipeline (same cause, not wrapped, not written as a test); TOAST,
// sequences, ALTER TYPE / ALTER DOMAIN (NOT VALID takes no table lock, so nothing queues); prepared
// transactions (pid NULL: always another's; max_prepared_transactions is 0 here); NoticeResponse and
// ErrorResponse rewriting under hot15 beyond the existing tests; TLS-wrapped chunks; fsync15 with a failing
// disk under concurrent multi-session load (only the unit-level fault tests ran); a large catalog for the
// lock-flapping cost.

import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Outcome } from './support/attempt.ts';
import { useRedTeamFixture } from './support/redteam-fixture.ts';
import { pollsSince } from './support/ddl-lock-watch.ts';
import { untilCatalogRead } from './support/migration-race.ts';
import { jsonDefaultOperatorClassSql } from './support/user-operator-classes.ts';
import type { TestGateway } from './support/harness.ts';
import { errorCodes, names, serialize, type Message } from './support/wire-client.ts';
import { openRaceSessions } from './support/arrival-race.ts';

const CLEANUP = `
DELETE FROM clinical.visits WHERE id >= 900000;
DROP VIEW IF EXISTS public.pgbench_rt15_view;
DROP TABLE IF EXISTS public.pgbench_rt15_cic, public.pgbench_rt15_alter, public.pgbench_rt15_warm, public.pgbench_rt15_base, public.ddl_rt15_scratch CASCADE;
DROP OPERATOR CLASS IF EXISTS public.rt15_json_ops USING btree CASCADE;
DROP OPERATOR CLASS IF EXISTS public.rt15_int_ops USING btree CASCADE;
DROP OPERATOR FAMILY IF EXISTS public.rt15_int_ops USING btree CASCADE;
DROP OPERATOR FAMILY IF EXISTS public.rt15_json_ops USING btree CASCADE;
DROP OPERATOR IF EXISTS public.<%% (json, json), public.<=%% (json, json), public.=%% (json, json), public.>=%% (json, json), public.>%% (json, json);
DROP FUNCTION IF EXISTS public.rt15_json_cmp(json, json), public.rt15_json_lt(json, json), public.rt15_json_le(json, json),
  public.rt15_json_eq(json, json), public.rt15_json_ge(json, json), public.rt15_json_gt(json, json), public.rt15_trg(), public.rt15_int_cmp(integer, integer) CASCADE;
`;

const SETUP = `
-- json has no default btree operator class: a superuser gives it one on PL functions (as in round 14).
${jsonDefaultOperatorClassSql('rt15', '%%')}
-- Text now; a migration turns it into json (whose default operator class is the user one above).
CREATE TABLE public.pgbench_rt15_alter (id integer, v text);
INSERT INTO public.pgbench_rt15_alter VALUES (1, '{"a": 1}'), (2, '{"b": 2}');
-- A table whose row an earlier statement of the agent's string waits for.
CREATE TABLE public.pgbench_rt15_warm (id integer PRIMARY KEY, v text);
INSERT INTO public.pgbench_rt15_warm SELECT g, 'x' FROM generate_series(1, 100) g;
-- An updatable view over a plain table, and a trigger function a migration may attach to the table.
CREATE TABLE public.pgbench_rt15_base (id integer, v text);
CREATE VIEW public.pgbench_rt15_view AS SELECT id, v FROM public.pgbench_rt15_base;
CREATE FUNCTION public.rt15_trg() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE NOTICE 'fired next to %', (SELECT ssn FROM clinical.patients WHERE id = 1);
  RETURN NEW;
END $$;
-- An operator class FOR TYPE integer on a PL function (not default: only an index naming it uses it),
-- and a table a migration indexes with it CONCURRENTLY.
CREATE FUNCTION public.rt15_int_cmp(integer, integer) RETURNS integer LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  RAISE NOTICE 'compared next to %', (SELECT ssn FROM clinical.patients WHERE id = 1);
  RETURN btint4cmp($1, $2);
END $$;
CREATE OPERATOR CLASS public.rt15_int_ops FOR TYPE integer USING btree AS
  OPERATOR 1 <, OPERATOR 2 <=, OPERATOR 3 =, OPERATOR 4 >=, OPERATOR 5 >,
  FUNCTION 1 public.rt15_int_cmp(integer, integer);
CREATE TABLE public.pgbench_rt15_cic (id integer, v text);
INSERT INTO public.pgbench_rt15_cic SELECT g, 'x' FROM generate_series(1, 20) g;
-- A scratch table the schema-admins change through Gatehouse.
CREATE TABLE public.ddl_rt15_scratch (id integer, v text);
INSERT INTO public.ddl_rt15_scratch VALUES (1, 'a');
-- Visit notes with an SSN in them, of sizes from a few bytes to ~40 kB (messages split across chunks at
-- many offsets): the detectors rewrite these DataRows on the way out (hot15 attack).
INSERT INTO clinical.visits (id, patient_id, visit_date, reason, notes)
SELECT 900000 + g, 1, date '2026-01-01', 'rt15', repeat('n', (g * 137) % 40000) || ' patient ssn 142-57-3391 noted ' || repeat('m', g % 97)
  FROM generate_series(1, 300) g;
`;

/** Polls `sql` (one row, column n) on `direct` until n > 0. No duration asserted. */
async function until(direct: pg.Client, sql: string, params: unknown[] = []): Promise<void> {
  for (let i = 0; i < 800; i++) {
    if (((await direct.query(sql, params)).rows[0] as { n: number }).n > 0) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`never true: ${sql}`);
}

/** `pending`'s outcome, or, once PostgreSQL shows it waiting on `table`, `release()` run and then its outcome; `queued` says which. */
async function outcomeAfterRelease(pending: Promise<Outcome>, direct: pg.Client, table: string, release: () => Promise<void>): Promise<{ outcome: Outcome; queued: boolean }> {
  const state: { done: Outcome | null } = { done: null };
  void pending.then((o) => (state.done = o));
  for (let i = 0; i < 800 && state.done === null; i++) {
    const n = ((await direct.query(`SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND relation = $1::regclass`, [table])).rows[0] as { n: number }).n;
    if (state.done !== null) break;
    if (n > 0) {
      await release();
      return { outcome: await pending, queued: true };
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return { outcome: await pending, queued: false };
}

describe.each(['rego', 'cedar'] as const)('red-team round 15 (%s): DDL locks between decision and execution', (engine) => {
  const rt = useRedTeamFixture({
    engine,
    // A database of its own: a default operator class on json is a schema other files do not expect.
    database: 'rt15',
    cleanup: CLEANUP,
    setup: SETUP,
    policies: { ruleId: 'rt15', agentTablePrefix: 'public.ddl_rt15_' },
    admin: 'rt15-admin',
    agent: { subject: 'rt15-agent', groups: ['agents', 'bench'] },
  });
  const { attempt, inBlock } = rt;
  let t: TestGateway, direct: pg.Client, admin: pg.Client, agent: pg.Client, ssn: string;
  beforeAll(() => {
    ({ gateway: t, direct, admin, agent, ssn } = rt);
  });

  /**
   * Once the DDL lock watch has polled past the previous test's DDL and the agent's read of the migrated
   * table is decided with a catalog read after it (refused with 42501 or 55000 until then), as in round 16.
   */
  const catalogSettled = async (): Promise<void> => {
    await pollsSince(direct, (await direct.query('SELECT clock_timestamp() AS at')).rows[0].at as Date);
    await untilCatalogRead(() => attempt(agent, 'SELECT count(*) FROM public.pgbench_rt15_alter'));
  };

  const upstreamClient = async (): Promise<pg.Client> => {
    const c = new pg.Client({ connectionString: t.upstreamUrl });
    await c.connect();
    return c;
  };

  it('the probes are live: sent directly after the migration, the DISTINCT raises the seeded SSN; the trigger does on an insert', async () => {
    await direct.query('BEGIN');
    try {
      await direct.query('ALTER TABLE public.pgbench_rt15_alter ALTER COLUMN v TYPE json USING v::json');
      const notices: string[] = [];
      const listen = (n: { message?: string }): void => void notices.push(n.message ?? '');
      direct.on('notice', listen);
      await direct.query('SELECT DISTINCT v FROM public.pgbench_rt15_alter');
      await direct.query(`CREATE TRIGGER rt15_probe BEFORE INSERT ON public.pgbench_rt15_base FOR EACH ROW EXECUTE FUNCTION public.rt15_trg()`);
      await direct.query(`INSERT INTO public.pgbench_rt15_view VALUES (1, 'y')`);
      await new Promise((r) => setImmediate(r));
      direct.off('notice', listen);
      expect(notices.some((n) => n.startsWith('sorted next to') && n.includes(ssn))).toBe(true);
      expect(notices.some((n) => n.startsWith('fired next to') && n.includes(ssn))).toBe(true);
    } finally {
      await direct.query('ROLLBACK');
    }
  });

  // R15-1: the client chooses how long passes between a statement's decision and its lock. Fixed: Gatehouse
  // locks the relations the decision checked when the string starts (enforce/lock-prefix.ts), so the
  // migration queues behind the string instead, and the SELECT runs the definition that was decided.
  it("R15-1: a statement decided while an earlier statement of its string waits runs the definition it was decided with: the migration waits for the string", async () => {
    const holder = await upstreamClient();
    const migration = await upstreamClient();
    migration.on('error', () => undefined);
    let o: Outcome | null = null;
    let altered: unknown = null;
    try {
      // Past the probe's ALTER (rolled back): otherwise the string may be decided while the watch still
      // reports that lock, refused at once (55P03), and never wait for the row below.
      await catalogSettled();
      await holder.query('BEGIN');
      await holder.query('SELECT id FROM public.pgbench_rt15_warm WHERE id = 5 FOR UPDATE');
      // Both statements decided now (no lock on pgbench_rt15_alter anywhere); the UPDATE waits for the row.
      const pending = attempt(agent, `UPDATE public.pgbench_rt15_warm SET v = 'y' WHERE id = 5; SELECT DISTINCT v FROM public.pgbench_rt15_alter ORDER BY v`);
      await until(direct, `SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND locktype = 'transactionid' AND pid IN (SELECT pid FROM pg_stat_activity WHERE datname = current_database())`);
      await migration.query('BEGIN');
      // Not awaited: the string holds pgbench_rt15_alter ACCESS SHARE from its start, so the ALTER waits for it.
      const altering = migration.query('ALTER TABLE public.pgbench_rt15_alter ALTER COLUMN v TYPE json USING v::json').then(() => 'altered', (e: unknown) => e);
      await until(direct, `SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND relation = 'public.pgbench_rt15_alter'::regclass AND mode = 'AccessExclusiveLock'`);
      await holder.query('COMMIT'); // the UPDATE goes on, then the SELECT, under the lock taken at the start
      o = await pending;
      altered = await altering; // and the migration after the string's transaction
      await migration.query('COMMIT');
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await migration.query('ROLLBACK').catch(() => undefined);
      await holder.end();
      await migration.end();
      await direct.query(`ALTER TABLE public.pgbench_rt15_alter ALTER COLUMN v TYPE text`);
    }
    expect(JSON.stringify(o)).not.toContain(ssn);
    expect(o!.code).toBeNull(); // ran, as decided: text's DISTINCT, not json's user operator class
    expect(o!.notices.filter((n) => n.startsWith('sorted next to'))).toEqual([]);
    expect(altered).toBe('altered');
  });

  it('R15-1: a lock taken after the decision and before the string starts is met by the prefix: 55P03 from Gatehouse, nothing of the string run', async () => {
    const { holder, migration, w, end } = await openRaceSessions({ gateway: t, token: await t.token('rt15-agent', ['agents', 'bench']) });
    let groups: Message[][] = [];
    try {
      // The relation snapshot read again after the previous tests' DDL, so that the pair below is decided at once.
      await catalogSettled();
      w.send(serialize.query('SELECT count(*) FROM public.pgbench_rt15_alter'));
      expect(errorCodes((await w.untilReady(1))[0]!)).toEqual([]);
      await holder.query('BEGIN');
      await holder.query('SELECT id FROM public.pgbench_rt15_warm WHERE id = 6 FOR UPDATE');
      // Two Query messages in one write: the second is decided on arrival (no lock anywhere yet) and
      // starts, with its LOCK, only when the first has run.
      w.send(serialize.query(`UPDATE public.pgbench_rt15_warm SET v = 'z' WHERE id = 6`), serialize.query(`SELECT DISTINCT v FROM public.pgbench_rt15_alter`));
      await until(direct, `SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND locktype = 'transactionid' AND pid IN (SELECT pid FROM pg_stat_activity WHERE datname = current_database())`);
      await migration.query('BEGIN');
      await migration.query('ALTER TABLE public.pgbench_rt15_alter ALTER COLUMN v TYPE json USING v::json');
      await holder.query('COMMIT');
      groups = await w.untilReady(2);
    } finally {
      await end();
    }
    expect(JSON.stringify(groups)).not.toContain(ssn);
    expect(errorCodes(groups[0]!)).toEqual([]);
    expect(errorCodes(groups[1]!)).toEqual(['55P03']);
    expect((groups[1]!.find((m) => m.name === 'error') as { message?: string } | undefined)?.message ?? '').toMatch(/^Gatehouse refused this statement: another transaction holds or waits for a lock/);
    expect(names(groups[1]!)).toEqual(['error', 'readyForQuery']);
  });

  // R15-2: a write through a view reaches its base table, whose SHARE ROW EXCLUSIVE lock is not followed.
  it('R15-2: an insert through an updatable view queued behind CREATE TRIGGER on its base table is refused (55P03), not run with the trigger', async () => {
    const migration = await upstreamClient();
    let r: { outcome: Outcome; queued: boolean } | null = null;
    try {
      await migration.query('BEGIN');
      await migration.query(`CREATE TRIGGER rt15_leak BEFORE INSERT ON public.pgbench_rt15_base FOR EACH ROW EXECUTE FUNCTION public.rt15_trg()`);
      await pollsSince(direct, (await migration.query('SELECT clock_timestamp() AS at')).rows[0].at as Date);
      r = await outcomeAfterRelease(inBlock(`INSERT INTO public.pgbench_rt15_view VALUES (7, 'y')`), direct, 'public.pgbench_rt15_base', async () => void (await migration.query('COMMIT')));
    } finally {
      await migration.query('ROLLBACK').catch(() => undefined);
      await migration.end();
      await direct.query('DROP TRIGGER IF EXISTS rt15_leak ON public.pgbench_rt15_base');
    }
    expect(JSON.stringify(r!.outcome)).not.toContain(ssn);
    expect(r!.queued).toBe(false);
    expect(r!.outcome.code).toBe('55P03');
  });

  it('held: the same insert naming the base table itself is refused (55P03) while CREATE TRIGGER is open on it', async () => {
    const migration = await upstreamClient();
    let r: { outcome: Outcome; queued: boolean } | null = null;
    try {
      await migration.query('BEGIN');
      await migration.query(`CREATE TRIGGER rt15_leak2 BEFORE INSERT ON public.pgbench_rt15_base FOR EACH ROW EXECUTE FUNCTION public.rt15_trg()`);
      await pollsSince(direct, (await migration.query('SELECT clock_timestamp() AS at')).rows[0].at as Date);
      r = await outcomeAfterRelease(inBlock(`INSERT INTO public.pgbench_rt15_base VALUES (7, 'y')`), direct, 'public.pgbench_rt15_base', async () => void (await migration.query('ROLLBACK')));
    } finally {
      await migration.query('ROLLBACK').catch(() => undefined);
      await migration.end();
      await direct.query('DROP TRIGGER IF EXISTS rt15_leak2 ON public.pgbench_rt15_base');
    }
    expect(JSON.stringify(r!.outcome)).not.toContain(ssn);
    expect(r!.queued).toBe(false);
    expect(r!.outcome.code).toBe('55P03');
  });

  // R15-4: CREATE INDEX CONCURRENTLY takes SHARE UPDATE EXCLUSIVE (not watched), and the index is maintained
  // by every write once its second transaction commits, long before the command ends and the event
  // trigger announces it; a CIC waiting for an old snapshot stays there as long as that snapshot lives.
  it('R15-4: a write to a table while CREATE INDEX CONCURRENTLY with a user operator class is under way is decided with the index (42501), not run with it unseen', async () => {
    const old = await upstreamClient();
    const migration = await upstreamClient();
    migration.on('error', () => undefined);
    let o: Outcome | null = null;
    let cic: Promise<unknown> | null = null;
    try {
      // An open snapshot in the database: CIC waits for it in its last phase, index ready for inserts.
      await old.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      await old.query('SELECT 1 FROM public.pgbench_rt15_warm LIMIT 1');
      cic = migration.query('CREATE INDEX CONCURRENTLY pgbench_rt15_cic_leak ON public.pgbench_rt15_cic (id public.rt15_int_ops)').catch((e: unknown) => e);
      await until(direct, `SELECT count(*)::int AS n FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'pgbench_rt15_cic_leak' AND i.indisready`);
      await pollsSince(direct, (await direct.query('SELECT clock_timestamp() AS at')).rows[0].at as Date);
      o = await inBlock(`INSERT INTO public.pgbench_rt15_cic VALUES (500, 'y')`);
    } finally {
      await old.query('ROLLBACK').catch(() => undefined);
      await cic;
      await old.end();
      await migration.end();
      await direct.query('DROP INDEX IF EXISTS public.pgbench_rt15_cic_leak');
    }
    expect(JSON.stringify(o)).not.toContain(ssn);
    expect(o!.code).toBe('42501'); // decided with the index's operator class in sight (R14-1), and refused
  });

  it('held: a second session of the same identity is not exempt from the first one\'s lock (55P03 while its ALTER TABLE is open through Gatehouse)', async () => {
    const admin2 = await t.client(await t.token('rt15-admin', ['schema-admins']));
    try {
      await admin.query('BEGIN');
      try {
        await admin.query('ALTER TABLE public.ddl_rt15_scratch ADD COLUMN w integer');
        // The session holding the lock goes on; the other session of the same subject does not.
        expect((await attempt(admin, 'SELECT count(*)::int AS n FROM public.ddl_rt15_scratch')).rows).toEqual([{ n: 1 }]);
        const other = await attempt(admin2, 'SELECT count(*)::int AS n FROM public.ddl_rt15_scratch');
        expect(other.code).toBe('55P03');
      } finally {
        await admin.query('ROLLBACK');
      }
    } finally {
      await admin2.end();
    }
  });
});

describe.each(['rego', 'cedar'] as const)('red-team round 15 (%s): the forward path (hot15) beside rewritten messages', (engine) => {
  const rt = useRedTeamFixture({
    engine,
    database: 'rt15',
    cleanup: CLEANUP,
    setup: SETUP,
    agent: { subject: 'rt15-support', groups: ['agents', 'support', 'bench'] },
  });
  const SSN_IN_NOTES = '142-57-3391';
  let agent: pg.Client, direct: pg.Client, ssn: string;
  beforeAll(() => {
    ({ agent, direct, ssn } = rt);
  });

  it('held: rewritten notes, a 3 MB value and masked rows in one query string: nothing raw, everything else byte-exact', async () => {
    const notes = `SELECT id, notes FROM clinical.visits WHERE id >= 900000 ORDER BY id`;
    const big = `SELECT repeat('0123456789', 300000) AS big, md5(repeat('0123456789', 300000)) AS sum`;
    const masked = `SELECT id, ssn FROM clinical.patients ORDER BY id LIMIT 50`;
    const plain = `SELECT g AS id, repeat(md5(g::text), 1 + g % 300) AS v FROM generate_series(1, 3000) g`;
    const results = (await agent.query(`${notes}; ${big}; ${masked}; ${plain}; ${notes}`)) as unknown as pg.QueryResult[];
    expect(results).toHaveLength(5);
    const text = JSON.stringify(results.map((r) => r.rows));
    expect(text).not.toContain(SSN_IN_NOTES);
    expect(text).not.toContain(ssn);
    for (const r of [results[0]!, results[4]!]) {
      expect(r.rows).toHaveLength(300);
      for (const row of r.rows as Array<{ notes: string }>) expect(row.notes).toMatch(/\[SSN\]/);
    }
    const b = results[1]!.rows[0] as { big: string; sum: string };
    expect(b.big.length).toBe(3_000_000);
    expect(b.big.slice(0, 20)).toBe('01234567890123456789');
    expect(results[3]!.rows).toEqual((await direct.query(plain)).rows);
    // The notes outside the SSN are relayed as written: the direct text with the SSN replaced.
    const raw = (await direct.query(notes)).rows as Array<{ id: number; notes: string }>;
    expect((results[0]!.rows as Array<{ notes: string }>).map((r) => r.notes.replace(/\[SSN\]/g, ''))).toEqual(raw.map((r) => r.notes.replace(SSN_IN_NOTES, '')));
  });

  it('held: the extended protocol (parameters, binary-free) gets the same rewritten rows', async () => {
    const r = await agent.query({ text: 'SELECT id, notes FROM clinical.visits WHERE id >= $1 ORDER BY id', values: [900000] });
    expect(r.rows).toHaveLength(300);
    expect(JSON.stringify(r.rows)).not.toContain(SSN_IN_NOTES);
  });
});
