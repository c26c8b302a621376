// Extended-protocol statements decided on arrival, and a migration that took its lock since the last
// pg_locks poll (red-team round 14, R14-3, for a single statement; pg/arrival-locks.ts), both engines.
// The gateway runs without the lock poll, so the migration's lock is never seen by the decision: that is
// the poll's 250 ms window, made deterministic. Without Gatehouse's DO block of LOCKs ahead of the Parse or
// Bind, the server waits there for the migration, which commits, and parses or plans the new definition:
// a masked column swapped with an unmasked one, a view redefined to read one. With it, the block fails
// NOWAIT and the statement is refused (55P03). Since red-team round 18a (R18a-3) every statement naming a
// relation is locked so, masked or not: a Parse ahead naming a relation a migration holds is refused at once
// rather than waiting (when it waited, pg/statement-order.ts held the statement behind it until it was answered).
// And a write held for approval: its Parse and Bind wait in Gatehouse with its Execute, so no lock of
// theirs is held on the server during the wait (red-team round 17b, observed).
// Each test asserts the SECURE (or available) behaviour; each fails without its fix.

import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TestGateway } from './support/harness.ts';
import { directSession } from './support/differential.ts';
import { until } from './support/migration-race.ts';
import { batchesBothWays, expectLockRefusal, raceBehindHeld, raceMigration, type Race } from './support/arrival-race.ts';
import { useRedTeamFixture } from './support/redteam-fixture.ts';
import { api, pendingRequest } from './support/approvals.ts';
import { names, serialize, WireClient, type Message } from './support/wire-client.ts';

const A = 'public.pgbench_lw6_a';
const B = 'public.pgbench_lw6_b';
const VIEW = 'public.pgbench_lw6_view';
const PATIENTS = 'clinical.patients';

const CLEANUP = `DROP VIEW IF EXISTS ${VIEW}; DROP TABLE IF EXISTS ${A}, ${B};`;
const SETUP = `
CREATE TABLE ${A} (id int PRIMARY KEY, v text); INSERT INTO ${A} VALUES (1, 'a'), (2, 'b');
CREATE TABLE ${B} (id int, v text); INSERT INTO ${B} VALUES (1, 'b');
CREATE VIEW ${VIEW} AS SELECT id, v FROM ${A};
`;

/** ssn and diagnosis_code change names: run twice, it undoes itself. */
const SWAP = `ALTER TABLE ${PATIENTS} RENAME COLUMN ssn TO lw6_tmp; ALTER TABLE ${PATIENTS} RENAME COLUMN diagnosis_code TO ssn; ALTER TABLE ${PATIENTS} RENAME COLUMN lw6_tmp TO diagnosis_code`;
const REDEFINE = `CREATE OR REPLACE VIEW ${VIEW} AS SELECT id, ssn AS v FROM ${PATIENTS}`;
const UNDEFINE = `CREATE OR REPLACE VIEW ${VIEW} AS SELECT id, v FROM ${A}`;

/** Parse, Bind, Describe, Execute of the unnamed statement and portal. */
const statement = (text: string): Buffer[] => [serialize.parse({ text }), serialize.bind({}), serialize.describe({ type: 'P' }), serialize.execute({})];

describe.each(['rego', 'cedar'] as const)('statements decided on arrival, locked ahead (%s)', (engine) => {
  const rt = useRedTeamFixture({
    engine,
    database: 'lockwin6',
    cleanup: CLEANUP,
    setup: SETUP,
    agent: { subject: 'lw6-agent', groups: ['agents', 'bench'] },
    gateway: { catalog: { lockPollMs: 0 }, admin: true }, // the admin listener, and approvals in memory with it
  });
  let t: TestGateway, direct: pg.Client, ssn: string, token: string;

  beforeAll(async () => {
    ({ gateway: t, direct, ssn } = rt);
    token = await t.token('lw6-agent', ['agents', 'bench']);
  });

  const race = (r: Race): Promise<Message[][]> => raceMigration({ gateway: t, direct, token }, r);
  const refused = (group: Message[]): void => expectLockRefusal(group, ssn);

  it('R14-3, masked: a Parse, Bind, Execute, Sync reading an unmasked column of a masked table, while a migration swaps it with the SSN: refused (55P03), no SSN', async () => {
    const read = `SELECT diagnosis_code FROM ${PATIENTS} WHERE id = 1`;
    const groups = await race({ ddl: SWAP, undo: SWAP, relation: PATIENTS, send: (w) => (w.send(...statement(read), serialize.sync()), w.untilReady(1)) });
    refused(groups[0]!);
    expect(names(groups[0]!)).toEqual(['error', 'readyForQuery']);
  });

  it('R14-3, masked: a statement prepared before the migration, bound and executed while it holds the table: refused at the Bind (55P03), no SSN', async () => {
    const read = `SELECT diagnosis_code FROM ${PATIENTS} WHERE id = 1`;
    const prepare = async (w: WireClient): Promise<void> => {
      w.send(serialize.parse({ name: 'lw6', text: read }), serialize.sync());
      await w.untilReady(1);
    };
    const send = (w: WireClient): Promise<Message[][]> => (w.send(serialize.bind({ statement: 'lw6' }), serialize.describe({ type: 'P' }), serialize.execute({}), serialize.sync()), w.untilReady(1));
    const groups = await race({ ddl: SWAP, undo: SWAP, relation: PATIENTS, send, before: prepare });
    refused(groups[0]!);
    expect(names(groups[0]!)).toEqual(['error', 'readyForQuery']);
  });

  it('R14-3, a view: a read of a view redefined to read the SSN while the statement is parsed: refused (55P03), no SSN', async () => {
    const groups = await race({ ddl: REDEFINE, undo: UNDEFINE, relation: VIEW, send: (w) => (w.send(...statement(`SELECT v FROM ${VIEW} WHERE id = 1`), serialize.sync()), w.untilReady(1)) });
    refused(groups[0]!);
    expect(names(groups[0]!)).toEqual(['error', 'readyForQuery']);
  });

  it('a Parse ahead naming a relation a migration holds: refused (55P03) at once by its own lock block (since R18a-3; before, it waited and held the statement behind it), nothing behind it run', async () => {
    // The Parse ahead, locked by Gatehouse since R18a-3, is refused at once instead of waiting for A.
    const group = await raceBehindHeld(
      { gateway: t, direct, token },
      {
        hold: `LOCK TABLE ${A} IN ACCESS EXCLUSIVE MODE`,
        held: A,
        release: 'COMMIT',
        send: [serialize.parse({ name: 'lw6a', text: `SELECT v FROM ${A}` }), ...statement(`SELECT v FROM ${B}`), serialize.sync()],
        ddl: `ALTER TABLE ${B} ADD COLUMN w int`,
        undo: `ALTER TABLE ${B} DROP COLUMN w`,
        relation: B,
      },
    );
    refused(group);
    expect(names(group)).toEqual(['error', 'readyForQuery']);
  });

  it('message for message as PostgreSQL: a masked read locked on arrival, prepared then bound twice, and an unmasked one (locked too since R18a-3)', async () => {
    const batches = [
      [...statement(`SELECT id, diagnosis_code FROM ${PATIENTS} WHERE id = 1`), serialize.sync()],
      [serialize.parse({ name: 'lw6m', text: `SELECT id FROM ${PATIENTS} WHERE id = $1`, types: [23] }), serialize.sync()],
      [serialize.bind({ statement: 'lw6m', values: ['1'] }), serialize.execute({}), serialize.bind({ statement: 'lw6m', values: ['2'] }), serialize.execute({}), serialize.sync()],
      [serialize.query('BEGIN'), ...statement(`SELECT v FROM ${VIEW} ORDER BY id`), serialize.sync(), ...statement(`SELECT v FROM ${A} ORDER BY id`), serialize.sync(), serialize.query('COMMIT')],
    ];
    for (const { gh, pg: pgAnswer } of await batchesBothWays(t, token, batches)) expect(gh).toEqual(pgAnswer);
  });

  it('message for message as PostgreSQL: the same relations read again and again (the prepared lock block reused), across a DEALLOCATE ALL and a failed transaction', async () => {
    const read = [...statement(`SELECT v FROM ${A} ORDER BY id`), serialize.sync()];
    const batches = [read, read, read, [serialize.query('DEALLOCATE ALL')], read, read, [serialize.query('BEGIN'), serialize.query('SELECT 1/0')], read, [serialize.query('ROLLBACK')], read, read];
    for (const { gh, pg: pgAnswer } of await batchesBothWays(t, token, batches)) expect(gh).toEqual(pgAnswer);
  });

  /**
   * An agent's UPDATE of clinical.patients (held for a clinical lead's approval by the example policies), as
   * Parse, Bind, Describe, Execute, Sync in one write; while it waits, another connection's LOCK TABLE ...
   * NOWAIT; then the lead's `verdict`. Returns what the LOCK got (null: the lock was had) and the client's
   * messages, with PostgreSQL's for the same batch sent directly.
   */
  async function heldWrite(verdict: 'approve' | 'deny'): Promise<{ lock: string | null; gh: Message[]; pg: Message[] }> {
    const lead = await t.token('lw6-lead', ['clinical-leads']);
    const phone = ((await direct.query('SELECT phone FROM clinical.patients WHERE id = 2')).rows[0] as { phone: string }).phone;
    const batch = [serialize.parse({ text: 'UPDATE clinical.patients SET phone = $1 WHERE id = 2' }), serialize.bind({ values: ['555-0606'] }), serialize.describe({ type: 'P' }), serialize.execute({}), serialize.sync()];
    const w = await WireClient.connect(t.port, token);
    const d = await directSession(t.upstreamUrl);
    try {
      w.send(...batch);
      const request = await pendingRequest(t.gw.adminPort!, lead, 'SET phone = $1');
      const lock = await direct.query(`BEGIN; LOCK TABLE ${PATIENTS} IN ACCESS EXCLUSIVE MODE NOWAIT; ROLLBACK`).then(
        () => null,
        (e: { code?: string }) => e.code ?? 'no code',
      );
      await direct.query('ROLLBACK').catch(() => undefined);
      expect((await api(t.gw.adminPort!, `/approvals/api/requests/${request.id}/answer`, lead, { verdict })).status).toBe(200);
      const [notice, ...gh] = (await w.untilReady(1))[0]!;
      // Gatehouse's own NOTICE saying the statement is held comes first, when the wait starts; the rest is the server's.
      expect((notice as { message?: string }).message).toMatch(/^Gatehouse is holding this statement for approval/);
      d.send(...batch);
      const pgAnswer = (await d.untilReady(1))[0]!;
      return { lock, gh, pg: pgAnswer };
    } finally {
      w.close();
      d.close();
      await direct.query('UPDATE clinical.patients SET phone = $1 WHERE id = 2', [phone]);
    }
  }

  it('a write held for approval holds no lock during the wait (a direct LOCK TABLE ... NOWAIT is had); approved, it runs: message for message as PostgreSQL', async () => {
    const { lock, gh, pg: truth } = await heldWrite('approve');
    expect(lock).toBeNull(); // 55P03 while its Parse and Bind went up before the wait
    expect(gh).toEqual(truth);
    expect(names(gh)).toEqual(['parseComplete', 'bindComplete', 'noData', 'commandComplete', 'readyForQuery']);
  });

  // An approved write's locks are taken only at its release (its DO block goes up with its Parse and Bind):
  // another transaction's short lock on the table at that moment made it fail at once with 55P03 although a
  // human had approved it. The block now tries again for about 2 s (NOWAIT each time: it never queues).
  it('an approved write released while another transaction briefly holds its table waits for the lock and runs (not 55P03)', async () => {
    const lead = await t.token('lw6-lead', ['clinical-leads']);
    const phone = ((await direct.query('SELECT phone FROM clinical.patients WHERE id = 2')).rows[0] as { phone: string }).phone;
    const w = await WireClient.connect(t.port, token);
    const holder = new pg.Client({ connectionString: t.upstreamUrl });
    await holder.connect();
    try {
      w.send(serialize.parse({ text: 'UPDATE clinical.patients SET phone = $1 WHERE id = 2' }), serialize.bind({ values: ['555-0707'] }), serialize.describe({ type: 'P' }), serialize.execute({}), serialize.sync());
      const request = await pendingRequest(t.gw.adminPort!, lead, 'SET phone = $1');
      await holder.query('BEGIN');
      await holder.query(`LOCK TABLE ${PATIENTS} IN SHARE MODE`); // conflicts with the write's ROW EXCLUSIVE
      expect((await api(t.gw.adminPort!, `/approvals/api/requests/${request.id}/answer`, lead, { verdict: 'approve' })).status).toBe(200);
      // Released: its block now retries for the lock (nothing held, nothing queued between tries). Then the lock goes.
      let answered = false;
      const answer = w.untilReady(1).then((g) => ((answered = true), g));
      await until(direct, `SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE 'DO $gatehouse$DECLARE tries%'`, () => answered);
      await holder.query('COMMIT');
      const [notice, ...gh] = (await answer)[0]!;
      expect((notice as { message?: string }).message).toMatch(/^Gatehouse is holding this statement for approval/);
      expect(names(gh)).toEqual(['parseComplete', 'bindComplete', 'noData', 'commandComplete', 'readyForQuery']);
      expect(((await direct.query('SELECT phone FROM clinical.patients WHERE id = 2')).rows[0] as { phone: string }).phone).toBe('555-0707');
    } finally {
      w.close();
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end();
      await direct.query('UPDATE clinical.patients SET phone = $1 WHERE id = 2', [phone]);
    }
  });

  it('a write held for approval and denied: no lock during the wait, and the client sees its Parse and Bind answered, then the refusal', async () => {
    const { lock, gh } = await heldWrite('deny');
    expect(lock).toBeNull();
    expect(names(gh)).toEqual(['parseComplete', 'bindComplete', 'noData', 'error', 'readyForQuery']);
  });
});
