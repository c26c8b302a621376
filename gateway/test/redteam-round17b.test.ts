// Red-team round 17b, against lock17 (pipelined statements decided in order and locked ahead:
// pg/statement-order.ts, enforce/lock-ahead.ts, pg/lock-answers.ts). Method as in rounds 15 and 16: the
// R15-1 race made deterministic (a direct transaction holds a row the agent's pipeline waits for; a
// migration turns the table a later statement reads into json, whose default btree operator class is a PL
// function raising the SSN it reads), both engines, real PostgreSQL 15.
//
// Found (each test asserts the SECURE behaviour):
// - R17b-1 (medium, fixed; R16-3 again, through a Sync): lock17 parks a message only behind a client Query
//   or Execute still unanswered. A Sync ahead of it is not counted, yet the Sync is where the implicit
//   transaction commits and runs its deferred constraint checks, which wait for rows like any statement: an
//   agent INSERTs into a table with a DEFERRABLE INITIALLY DEFERRED foreign key, sends Flush (the INSERT is
//   answered: nothing in flight), then Sync + Parse/Bind/Execute SELECT + Sync in one write. The SELECT was
//   decided on arrival and sent with no lock ahead; the commit waited for the referenced row another
//   transaction held FOR UPDATE; a migration was granted meanwhile; the SELECT parsed the new definition
//   and ran json's operator class: SSN in NOTICEs. Fixed (pg/pending.ts): an unanswered Sync counts as a
//   statement in flight, so the SELECT waits for its ReadyForQuery, is decided then and gets the DO block
//   ahead of it (55P03 under the migration). Costs a round trip only to clients that send a statement
//   naming relations behind a Sync still unanswered (several transactions pipelined).
// - R17b-2 (medium, fixed; R10-6/R10-10 through the approval wait): a write under a mask held for
//   approval (agents' writes to clinical.patients in the example policies) was reviewed (trigger functions,
//   constraint fingerprints: enforce/trigger-review.ts, fresh-catalog.ts) when decided, and run after the
//   wait (up to an hour) with nothing checked again; the lock prefix taken then found the table free. A
//   trigger created directly on the server during the wait, with an unreviewed function, ran under the
//   agent's write. Its NOTICE quoting the SSN was withheld by the relay (defence in depth held), but the
//   function ran with raw access (it could write the SSN where the agent reads, or raise only for some
//   values: an error-vs-no-error oracle). Fixed (enforce/fresh-catalog.ts changedWhileHeld, called by the
//   decision point once the approval is in, not at Parse where nothing waits): the same fingerprint check
//   again; a difference or a failed check refuses the write with 55000 ("send it again"), nothing of it runs.
// - R17b-3 (low, availability; fixed): the DO block ahead of a pipelined message is prepared
//   under a named statement (`gatehouse_<session>_l<n>`) closed by the last two of its five messages. When
//   its Execute fails (55P03 under a migration, 57014 from a cancel or statement_timeout, 42501, 42P01),
//   the server skips both Closes with the client's messages up to the Sync, and the statement stays
//   prepared in the backend for the rest of the connection (seen in pg_prepared_statements after R17b-1's
//   refusal). One per failed lock: memory in the backend grows with the failures a session meets (an agent
//   cannot fail them at will without a third party's lock or precise timing), and on a pooled upstream it
//   lives until the connection is reset. Fixed (pg/lock-answers.ts, enforce/lock-ahead.ts): one lock
//   name per session (`gatehouse_<session>_lock`), and a `Close S` of it ahead of every DO block (six answers
//   swallowed): at most one is ever left. Not done: closing it right after the Sync that ends the skipped
//   stretch (a Close owed by the relay, its CloseComplete swallowed), which would leave none.
//
// Held (tried, kept where cheap as tests below or by reading):
// - Reserved names: the DO block is prepared under `gatehouse_<session>_lock`; a client's statement names
//   never reach the server as sent (renamed), portal and cursor names and SQL PREPARE/EXECUTE with the
//   prefix are refused (any case for portals/cursors), so a name seen in pg_prepared_statements cannot be
//   taken ahead of Gatehouse's own Parse.
// - The DO block's text: every relation schema-qualified and double-quoted (quotedRelation), dollar-quote
//   tag chosen not to occur in it; search_path cannot redirect it; a function named like a table is not
//   called by LOCK TABLE.
// - A held message keeps everything behind it held (one parked slot; the framer is not read past it, and
//   past HELD_BACKLOG_BYTES the socket is paused): the held queue is bounded by the backlog.
// - Two Syncs in one write behind a statement in flight, errors skipping to Sync, a failed block's 25P02:
//   message for message as PostgreSQL (lock-ahead.test.ts, run green with R17b-1's change). A DO block in
//   a failed block fails at its Parse (25P02), so it leaves no statement (R17b-3 needs a failing Execute).
// - search_path changed between a Parse and a parked Bind: PostgreSQL re-analyses the statement with the
//   current search_path (since 9.3), the path Gatehouse decides and locks with (by reading).
// - A released message its decision refuses gets no DO block; a released Execute of a DECLAREd cursor is
//   not parked (no text decided there; the DECLARE was decided and locked itself) (by reading).
// - The NOTICE of the unreviewed trigger in R17b-2 was withheld by the relay (routine code writing a
//   masked table): the value did not reach the agent through that channel even before the fix.
// - An approved write in the extended protocol: its Parse and Bind went up before the Execute was held,
//   so the implicit transaction holds the table: a trigger cannot be created during the wait (since
//   lockwin6 they wait in Gatehouse with the Execute: a trigger can be created, and R17b-2's check refuses
//   the write once approved; test below).
//   After a trigger is dropped directly, the agent's next write under a mask was refused (42501, unreviewed
//   trigger) until the snapshot was read again: stale, but closed.
// Observed (availability, older than lock17; fixed by lockwin6: pg/arrival-locks.ts, lock-on-arrival.test.ts):
// that same lock was held for the whole approval wait (up to the request's TTL, 1 h in the example policy),
// so a migration of clinical.patients waited for it, and every later statement on the table, of any
// session, queued behind the migration's lock request.
// Left open here, closed by lockwin6 (pg/pending.ts otherStatementInFlight): a Parse or Bind ahead waiting
// for a relation lock was not counted as work in flight; it now is for the messages of other prepared
// statements (a statement's own Bind and Execute do not wait for its Parse and Bind: locked on arrival
// under a mask or a view, pg/arrival-locks.ts).
// Not attacked: a CancelRequest timed into the DO block (its 57014 is shown with Gatehouse's detail and
// the statement skipped, by reading lockAheadFailed), COPY FROM behind a parked message, hot standby.

import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../src/audit/types.ts';
import { dropOperatorClassesSql, jsonDefaultOperatorClassSql } from './support/user-operator-classes.ts';
import { recorded, type TestGateway } from './support/harness.ts';
import { lockWatchSettled, OURS, ROW_WAITER, until, untilTrue } from './support/migration-race.ts';
import { CATALOG_CHANNEL } from '../src/pg/catalog-peers.ts';
import { api, pendingRequest } from './support/approvals.ts';
import { useCatalogReadBeforeEach, useRedTeamFixture } from './support/redteam-fixture.ts';
import { errorCodes, names, rowsOf, serialize, WireClient, type Message } from './support/wire-client.ts';

const CLEANUP = `
DROP FUNCTION IF EXISTS clinical.rt17b_leak() CASCADE;
DROP TABLE IF EXISTS public.pgbench_rt17b_alter, public.pgbench_rt17b_child, public.pgbench_rt17b_parent CASCADE;
${dropOperatorClassesSql('rt17b', '%%')}
`;

const SETUP = `
-- A trigger function quoting the row's SSN, for a trigger created while a write waits for approval.
CREATE FUNCTION clinical.rt17b_leak() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE NOTICE 'row of %', OLD.ssn;
  RETURN NEW;
END $$;
${jsonDefaultOperatorClassSql('rt17b', '%%')}
-- Text now; a migration turns it into json.
CREATE TABLE public.pgbench_rt17b_alter (id integer, v text);
INSERT INTO public.pgbench_rt17b_alter VALUES (1, '{"a": 1}'), (2, '{"b": 2}');
-- A foreign key checked when the implicit transaction commits (at the client's Sync).
CREATE TABLE public.pgbench_rt17b_parent (id integer PRIMARY KEY);
INSERT INTO public.pgbench_rt17b_parent SELECT generate_series(1, 100);
CREATE TABLE public.pgbench_rt17b_child (id integer REFERENCES public.pgbench_rt17b_parent (id) DEFERRABLE INITIALLY DEFERRED);
`;

const ALTER = 'public.pgbench_rt17b_alter';
const PARENT = 'public.pgbench_rt17b_parent';
const CHILD = 'public.pgbench_rt17b_child';
const TO_JSON = `ALTER TABLE ${ALTER} ALTER COLUMN v TYPE json USING v::json`;

describe.each(['rego', 'cedar'] as const)('red-team round 17b (%s): statements pipelined behind others', (engine) => {
  const rt = useRedTeamFixture({
    engine,
    database: 'rt17b',
    cleanup: CLEANUP,
    setup: SETUP,
    agent: { subject: 'rt17b-agent', groups: ['agents', 'bench'] },
    gateway: { admin: true }, // the admin listener, and approvals in memory with it
  });
  let t: TestGateway, direct: pg.Client, ssn: string;

  beforeAll(() => void ({ gateway: t, direct, ssn } = rt));
  useCatalogReadBeforeEach(rt, `SELECT count(*) FROM ${ALTER}`);

  const upstreamClient = async (): Promise<pg.Client> => {
    const c = new pg.Client({ connectionString: t.upstreamUrl });
    await c.connect();
    return c;
  };

  function outcomesOf(records: AuditRecord[], texts: readonly string[]): Array<Extract<AuditRecord, { type: 'outcome' }>['outcome'] | undefined> {
    return texts.map((text) => {
      const stmt = records.filter((r) => r.type === 'statement' && r.statement === recorded(text)).at(-1);
      return records.find((r): r is Extract<AuditRecord, { type: 'outcome' }> => r.type === 'outcome' && stmt?.type === 'statement' && r.decision_id === stmt.decision_id)?.outcome;
    });
  }

  it('the probe is live: after the migration, the DISTINCT raises the seeded SSN (sent directly)', async () => {
    await direct.query('BEGIN');
    const notices: string[] = [];
    const listen = (n: { message?: string }): void => void notices.push(n.message ?? '');
    try {
      await direct.query(TO_JSON);
      direct.on('notice', listen);
      await direct.query(`SELECT DISTINCT v FROM ${ALTER} ORDER BY v`);
      await new Promise((r) => setImmediate(r));
    } finally {
      direct.off('notice', listen);
      await direct.query('ROLLBACK');
      await lockWatchSettled(direct);
    }
    expect(notices.some((n) => n.startsWith('sorted next to') && n.includes(ssn))).toBe(true);
  });

  const INSERT = `INSERT INTO ${CHILD} VALUES (6)`;
  const SELECT = `SELECT DISTINCT v FROM ${ALTER} WHERE id > 0 ORDER BY v`;

  /**
   * The R17b-1 attack: the INSERT is answered after a Flush (nothing of the client's in flight), then Sync +
   * the SELECT + Sync in one write; the Sync's commit waits for a row (the deferred foreign key check), a
   * migration is granted meanwhile. The migration commits only once the pipeline is answered or once the
   * SELECT waits behind its lock (as it did before the fix, and then ran json's operator class), so a
   * refused SELECT cannot be by chance. Then the prepared statements the session's backend holds.
   */
  async function syncRace(session?: WireClient): Promise<{ first: Message[]; groups: Message[][]; decidedWhileWaiting: boolean; leftPrepared: Message[] }> {
    const w = session ?? (await WireClient.connect(t.port, await t.token('rt17b-agent', ['agents', 'bench'])));
    const holder = await upstreamClient();
    const migration = await upstreamClient();
    migration.on('error', () => undefined);
    let groups: Message[][] | undefined;
    let first: Message[] = [];
    let decidedWhileWaiting = true;
    let leftPrepared: Message[] = [];
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT id FROM ${PARENT} WHERE id = 6 FOR UPDATE`);
      const before = t.audit().length;
      w.send(serialize.parse({ text: INSERT }), serialize.bind({}), serialize.execute({}), serialize.flush());
      first = [await w.next(), await w.next(), await w.next()]; // the INSERT answered: nothing of the client's in flight
      w.send(serialize.sync(), serialize.parse({ text: SELECT }), serialize.bind({}), serialize.execute({}), serialize.sync());
      const answered = w.untilReady(2).then((g) => (groups = g));
      await until(direct, ROW_WAITER); // the commit's foreign key check waits for the held row
      await migration.query('BEGIN');
      await migration.query(TO_JSON); // granted at once: nothing of the pipeline holds the table
      decidedWhileWaiting = t.audit().slice(before).some((r) => r.type === 'statement' && r.statement === recorded(SELECT));
      await holder.query('COMMIT'); // the commit goes on; the SELECT is decided now
      const selectWaits = `SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND relation = '${ALTER}'::regclass AND mode = 'AccessShareLock' AND ${OURS}`;
      await until(direct, selectWaits, () => groups !== undefined);
      await migration.query('COMMIT');
      await answered;
      w.send(serialize.query(`SELECT name FROM pg_prepared_statements WHERE name LIKE 'gatehouse%'`));
      leftPrepared = (await w.untilReady(1))[0]!;
    } finally {
      if (session === undefined) w.close();
      await holder.query('ROLLBACK').catch(() => undefined);
      await migration.query('ROLLBACK').catch(() => undefined);
      await holder.end();
      await migration.end();
      await direct.query(`ALTER TABLE ${ALTER} ALTER COLUMN v TYPE text`);
      await direct.query(`DELETE FROM ${CHILD}`);
      await lockWatchSettled(direct);
    }
    return { first, groups: groups!, decidedWhileWaiting, leftPrepared };
  }

  it('R17b-1: a SELECT pipelined behind a Sync whose commit waits (deferred foreign key) is decided after it and refused (55P03) under the migration granted meanwhile', async () => {
    const { first, groups, decidedWhileWaiting } = await syncRace();
    expect(names(first)).toEqual(['parseComplete', 'bindComplete', 'commandComplete']);
    const [committed, refused] = groups;
    expect(JSON.stringify(groups)).not.toContain(ssn);
    expect(refused!.filter((m) => m.name === 'notice' && String((m as { message?: string }).message).startsWith('sorted next to'))).toEqual([]);
    expect(decidedWhileWaiting).toBe(false); // decided on arrival before the fix
    expect(names(committed!)).toEqual(['readyForQuery']);
    expect(errorCodes(refused!)).toEqual(['55P03']);
    const found = outcomesOf(await t.auditUntil((r) => outcomesOf(r, [INSERT, SELECT]).every((x) => x !== undefined)), [INSERT, SELECT]);
    expect(found[0]).toMatchObject({ status: 'ok', command_tag: 'INSERT 0 1' });
    expect(found[1]).toMatchObject({ status: 'refused', sqlstate: '55P03' });
  });

  // R17b-3: a DO block whose Execute fails leaves its prepared statement (its Closes are skipped); the
  // next block of the session closes it first, so two failed locks in one session leave one, not two.
  it('R17b-3: failed locks ahead leave at most one statement of Gatehouse prepared in the session\'s backend', async () => {
    const w = await WireClient.connect(t.port, await t.token('rt17b-agent', ['agents', 'bench']));
    const left: string[][] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const { groups, leftPrepared } = await syncRace(w);
        expect(errorCodes(groups[1]!)).toEqual(['55P03']);
        expect(errorCodes(leftPrepared)).toEqual([]);
        left.push(rowsOf(leftPrepared).map((r) => String(r[0])));
      }
    } finally {
      w.close();
    }
    // The session's prepared lock blocks (`<prefix>lock<n>`, pg/lock-statements.ts: kept by design, at most
    // 32) are not leftovers; what a failed block leaves is the one-shot name or client statements' own.
    expect(left[1]!.filter((n) => !/_lock\d+$/.test(n)).length, JSON.stringify(left)).toBeLessThanOrEqual(1); // two before the fix
  });

  /**
   * After the trigger is dropped directly: a notification on the peers' channel and a catalog read after it,
   * so that the next write under a mask is not refused (42501) on a snapshot that still has the trigger.
   */
  async function triggerDropRead(): Promise<void> {
    const reads = (): number => [...t.gw.catalogStats().values()].reduce((n, s) => n + s.relations.reads, 0);
    const before = reads();
    await direct.query(`SELECT pg_notify('${CATALOG_CHANNEL}', 'rt17b')`);
    await untilTrue(() => reads() > before, 'a catalog read after the trigger was dropped');
  }

  // R17b-2: the example policy holds agents' writes to clinical.patients for a clinical lead's approval.
  // The write was reviewed (triggers, constraints: enforce/fresh-catalog.ts, trigger-review.ts) when it
  // was decided, before the wait; the lock prefix is taken after it. A trigger created on the server
  // while the write waited fires when it runs.
  /** R17b-2's attack: the write sent (`send`), held; a trigger created on the server; approved; the write's outcome and the notices. */
  async function approvalRace(send: (c: pg.Client) => Promise<pg.QueryResult>, marker: string): Promise<{ outcome: unknown; notices: string[] }> {
    const adminPort = t.gw.adminPort!;
    const lead = await t.token('lead-1', ['clinical-leads']);
    const c = await t.client(await t.token('agent-7', ['agents']));
    const notices: string[] = [];
    c.on('notice', (n) => void notices.push(JSON.stringify(n)));
    try {
      const held = send(c).then(
        (r) => ({ rowCount: r.rowCount }),
        (e: { code?: string; message: string }) => ({ code: e.code, message: e.message }),
      );
      const request = await pendingRequest(adminPort, lead, marker);
      await direct.query('CREATE TRIGGER rt17b_leak BEFORE UPDATE ON clinical.patients FOR EACH ROW EXECUTE FUNCTION clinical.rt17b_leak()');
      expect((await api(adminPort, `/approvals/api/requests/${request.id}/answer`, lead, { verdict: 'approve' })).status).toBe(200);
      const outcome = await held;
      await new Promise((r) => setImmediate(r));
      return { outcome, notices };
    } finally {
      await direct.query('DROP TRIGGER IF EXISTS rt17b_leak ON clinical.patients');
      await c.end();
      await lockWatchSettled(direct);
      await triggerDropRead();
    }
  }

  it('R17b-2: a trigger created while a write under a mask waits for approval refuses the write once approved (55000): never run unreviewed', async () => {
    const { outcome, notices } = await approvalRace((c) => c.query("UPDATE clinical.patients SET phone = '555-1717' WHERE id = 1"), "'555-1717'");
    expect(notices.filter((n) => n.includes(ssn))).toEqual([]);
    expect(outcome).toMatchObject({ code: '55000' });
    expect(((await direct.query('SELECT phone FROM clinical.patients WHERE id = 1')).rows[0] as { phone: string }).phone).not.toBe('555-1717');
  });

  // Held, and since lockwin6 without a lock: in the extended protocol the held Execute's Parse and Bind wait
  // in Gatehouse with it (pg/arrival-locks.ts), so nothing holds the table during the wait: a trigger can be
  // created then (before lockwin6 it waited for the implicit transaction, 55P03 under a lock_timeout), and
  // the approved write is refused once approved (55000, R17b-2's check): never run unreviewed.
  it('held, extended protocol: a trigger created during the wait (the held Execute\'s Parse and Bind not sent yet) refuses the write once approved (55000)', async () => {
    const adminPort = t.gw.adminPort!;
    const lead = await t.token('lead-1', ['clinical-leads']);
    const c = await t.client(await t.token('agent-7', ['agents']));
    let created: string | null = 'not tried';
    let outcome: unknown = null;
    try {
      const held = c.query('UPDATE clinical.patients SET phone = $1 WHERE id = $2', ['555-1718', 1]).then(
        (r) => ({ rowCount: r.rowCount }),
        (e: { code?: string }) => ({ code: e.code }),
      );
      const request = await pendingRequest(adminPort, lead, 'SET phone = $1');
      await direct.query(`SET lock_timeout = '300ms'`);
      created = await direct.query('CREATE TRIGGER rt17b_leak BEFORE UPDATE ON clinical.patients FOR EACH ROW EXECUTE FUNCTION clinical.rt17b_leak()').then(
        () => null,
        (e: { code?: string }) => e.code ?? 'no code',
      );
      expect((await api(adminPort, `/approvals/api/requests/${request.id}/answer`, lead, { verdict: 'approve' })).status).toBe(200);
      outcome = await held;
    } finally {
      await direct.query('RESET lock_timeout');
      await direct.query('DROP TRIGGER IF EXISTS rt17b_leak ON clinical.patients');
      await c.end();
      await lockWatchSettled(direct);
      await triggerDropRead();
    }
    expect(created).toBeNull();
    expect(outcome).toMatchObject({ code: '55000' });
    expect(((await direct.query('SELECT phone FROM clinical.patients WHERE id = 1')).rows[0] as { phone: string }).phone).not.toBe('555-1718');
  });
});
