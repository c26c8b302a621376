// Pipelined statements decided in order and locked ahead (pg/statement-order.ts, enforce/lock-ahead.ts;
// red-team round 16, R16-3): a Parse, Bind, Execute or Query naming relations, sent while an earlier
// statement of the client is unanswered upstream, waits until it is answered and is decided then, and a
// Parse, Bind or Execute that waited gets its relations locked NOWAIT right ahead of it by Gatehouse's own
// DO block. The client must see exactly what PostgreSQL sends without it (results, command tags,
// transaction status, errors and what an error skips), and a lock taken in between by a migration must
// refuse the statement with Gatehouse's 55P03, audited on the statement.

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../src/audit/types.ts';
import { recorded, startTestGateway, type TestGateway } from './support/harness.ts';
import { startTwoTables, type TwoTables } from './support/two-tables.ts';
import { directSession } from './support/differential.ts';
import { alterWaitingSql, OURS, ROW_WAITER, until } from './support/migration-race.ts';
import { errorCodes, names, serialize, WireClient, type Message } from './support/wire-client.ts';
import { openRaceSessions } from './support/arrival-race.ts';

const A = 'public.pgbench_lock17_a';
const B = 'public.pgbench_lock17_b';

/** Parse, Bind, (Describe,) Execute of the unnamed statement and portal. */
const statement = (text: string, describe = false): Buffer[] => [
  serialize.parse({ text }),
  serialize.bind({}),
  ...(describe ? [serialize.describe({ type: 'P' })] : []),
  serialize.execute({}),
];

describe('statements pipelined behind others: decided in order, locked ahead (R16-3)', () => {
  let t: TestGateway;
  let direct: pg.Client;
  let token: string;
  let fixture: TwoTables | undefined;

  beforeAll(async () => {
    fixture = await startTwoTables(A, B, 'lock17@example.com');
    ({ t, direct, token } = fixture);
  });
  afterAll(() => fixture?.close());

  /** Sends the same batches through Gatehouse and straight to PostgreSQL, each whole in one write; returns both answers. */
  async function bothWays(...batches: Array<{ send: Buffer[]; ready: number }>): Promise<{ gh: Message[][]; pg: Message[][] }> {
    const w = await WireClient.connect(t.port, token);
    const d = await directSession(t.upstreamUrl);
    try {
      const gh: Message[][] = [];
      const truth: Message[][] = [];
      for (const b of batches) {
        w.send(...b.send);
        gh.push(...(await w.untilReady(b.ready)));
        d.send(...b.send);
        truth.push(...(await d.untilReady(b.ready)));
      }
      return { gh, pg: truth };
    } finally {
      w.close();
      d.close();
    }
  }

  it('leaves results, command tags, transaction status and error skipping as PostgreSQL gives them (raw protocol, message for message)', async () => {
    const { gh, pg: truth } = await bothWays(
      // Writes and reads pipelined in one implicit transaction.
      {
        send: [
          ...statement(`INSERT INTO ${B} VALUES (1, 'x')`),
          ...statement(`SELECT id, v FROM ${A} ORDER BY id`, true),
          ...statement(`UPDATE ${B} SET v = 'y' WHERE id = 1`),
          ...statement(`SELECT v FROM ${B}`, true),
          ...statement(`DELETE FROM ${B} WHERE id = 1`),
          serialize.sync(),
        ],
        ready: 1,
      },
      // In a block: status T until its end (rolled back: both ways write the same table); two Syncs in one write.
      {
        send: [serialize.query('BEGIN'), ...statement(`SELECT count(*) FROM ${A}`, true), serialize.sync(), ...statement(`INSERT INTO ${B} VALUES (2, 'z')`), ...statement(`SELECT count(*) FROM ${B}`, true), serialize.sync(), serialize.query('ROLLBACK')],
        ready: 4,
      },
      // An error in the second statement: the third is skipped, the implicit transaction rolled back.
      {
        send: [...statement(`INSERT INTO ${B} VALUES (3, 'w')`), ...statement(`SELECT 1/0 FROM ${A}`), ...statement(`SELECT count(*) FROM ${B}`, true), serialize.sync(), ...statement(`SELECT count(*) FROM ${B}`, true), serialize.sync()],
        ready: 2,
      },
      // A Parse error behind a statement in flight, and a failed block answering 25P02.
      {
        send: [serialize.query('BEGIN'), ...statement(`SELECT id FROM ${A} WHERE id = 1`, true), ...statement(`SELECT nosuch FROM ${A}`), serialize.sync(), ...statement(`SELECT v FROM ${A}`), serialize.sync(), serialize.query('ROLLBACK')],
        ready: 4,
      },
    );
    expect(gh).toEqual(truth);
    expect(gh.map((g) => (g.at(-1) as { status?: string }).status)).toEqual(['I', 'T', 'T', 'T', 'I', 'I', 'I', 'T', 'E', 'E', 'I']);
    expect(gh[3]!.filter((m) => m.name === 'commandComplete').map((m) => m.text)).toEqual(['INSERT 0 1', 'SELECT 1']);
    expect(errorCodes(gh[5]!)).toEqual(['22012']);
    expect(errorCodes(gh[8]!)).toEqual(['42703']);
    expect(errorCodes(gh[9]!)).toEqual(['25P02']);
    expect(((await direct.query(`SELECT count(*)::int AS n FROM ${B}`)).rows[0] as { n: number }).n).toBe(0); // deleted, rolled back, or failed
  });

  it('node-postgres sees the same results and tags through Gatehouse as directly (parameters, a transaction)', async () => {
    const c = await t.client(token);
    try {
      const run = async (client: pg.Client): Promise<unknown[]> => {
        const out: unknown[] = [];
        await client.query('BEGIN');
        for (const [text, values] of [
          [`INSERT INTO ${B} VALUES ($1, $2)`, [5, 'p']],
          [`SELECT id, v FROM ${A} WHERE id = $1`, [2]],
          [`SELECT count(*)::int AS n FROM ${B} WHERE v = $1`, ['p']],
        ] as const) {
          const r = await client.query(text, [...values]);
          out.push([r.command, r.rowCount, r.rows]);
        }
        await client.query('ROLLBACK');
        return out;
      };
      expect(await run(c)).toEqual(await run(direct));
    } finally {
      await c.end();
    }
  });

  it('a migration granted while the statement ahead waits: the pipelined statement is refused (Gatehouse 55P03, at its Parse), never run on the new definition; audited as refused and why', async () => {
    const { holder, migration, w, end } = await openRaceSessions({ gateway: t, token });
    const update = `UPDATE ${A} SET v = 'z' WHERE id = 1`;
    const read = `SELECT count(*) FROM ${B}`;
    let groups: Message[][] = [];
    const before = t.audit().length;
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT id FROM ${A} WHERE id = 1 FOR UPDATE`);
      w.send(...statement(update), ...statement(read, true), serialize.sync());
      await until(direct, ROW_WAITER);
      await migration.query('BEGIN');
      await migration.query(`ALTER TABLE ${B} ADD COLUMN w int`); // granted at once: nothing holds B yet
      await holder.query('COMMIT');
      // The migration commits once the batch is answered, or once the read waits behind its lock (without the fix).
      const answered = w.untilReady(1).then((g) => (groups = g));
      await until(direct, `SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND relation = '${B}'::regclass AND mode = 'AccessShareLock'`, () => groups.length > 0);
      await migration.query('COMMIT');
      await answered;
    } finally {
      await end();
      await direct.query(`ALTER TABLE ${B} DROP COLUMN IF EXISTS w`);
    }
    expect(names(groups[0]!)).toEqual(['parseComplete', 'bindComplete', 'commandComplete', 'error', 'readyForQuery']);
    const error = groups[0]!.find((m) => m.name === 'error') as { code?: string; message?: string; hint?: string };
    expect(error.code).toBe('55P03');
    expect(error.message).toMatch(/^Gatehouse refused this statement: another transaction holds or waits for a lock on a relation this query string uses \(could not obtain lock on relation "public.pgbench_lock17_b"\)/);
    expect(error.hint).toMatch(/^Retry after the transaction changing it commits or rolls back/);
    expect(((await direct.query(`SELECT v FROM ${A} WHERE id = 1`)).rows[0] as { v: string }).v).toBe('a');

    // The SELECT was decided only after the UPDATE's outcome, and is audited as refused (55P03) and why.
    const mine = (records: AuditRecord[]): AuditRecord[] => records.slice(before);
    const records = mine(await t.auditUntil((r) => mine(r).filter((x) => x.type === 'outcome').length >= 2));
    const stmt = (text: string): number => records.findIndex((r) => r.type === 'statement' && r.statement === recorded(text));
    const outcomeOf = (text: string): number => {
      const s = records[stmt(text)];
      return records.findIndex((r) => r.type === 'outcome' && s?.type === 'statement' && r.decision_id === s.decision_id);
    };
    expect(stmt(read)).toBeGreaterThan(outcomeOf(update));
    const refused = records[outcomeOf(read)] as Extract<AuditRecord, { type: 'outcome' }>;
    expect(refused.outcome).toMatchObject({ status: 'refused', sqlstate: '55P03' });
    expect((refused.outcome as { reason?: string }).reason).toMatch(/Gatehouse locks public.pgbench_lock17_b before the string runs/);
    expect((records[outcomeOf(update)] as Extract<AuditRecord, { type: 'outcome' }>).outcome).toMatchObject({ status: 'ok', command_tag: 'UPDATE 1' });
  });

  it('with the Bind sent ahead of the statement that waits, the migration waits for the batch (PostgreSQL locks at Bind) and the Execute runs as directly', async () => {
    const { holder, migration, w, end } = await openRaceSessions({ gateway: t, token });
    let groups: Message[][] = [];
    let altered = false;
    try {
      w.send(serialize.parse({ name: 's17', text: `SELECT v FROM ${B} WHERE id = 7` }), serialize.sync());
      await w.untilReady(1);
      await holder.query('BEGIN');
      await holder.query(`SELECT id FROM ${A} WHERE id = 2 FOR UPDATE`);
      w.send(serialize.bind({ statement: 's17', portal: 'p17' }), ...statement(`UPDATE ${A} SET v = 'b' WHERE id = 2`), serialize.execute({ portal: 'p17' }), serialize.sync());
      await until(direct, ROW_WAITER);
      await migration.query('BEGIN');
      const altering = migration.query(`ALTER TABLE ${B} ADD COLUMN w int`).then(() => void (altered = true));
      await until(direct, alterWaitingSql(B), () => altered);
      const alterWaited = !altered;
      await holder.query('COMMIT');
      groups = await w.untilReady(1);
      await altering;
      await migration.query('ROLLBACK');
      expect(alterWaited).toBe(true);
    } finally {
      await end();
    }
    expect(names(groups[0]!)).toEqual(['bindComplete', 'parseComplete', 'bindComplete', 'commandComplete', 'commandComplete', 'readyForQuery']);
    expect(groups[0]!.filter((m) => m.name === 'commandComplete').map((m) => m.text)).toEqual(['UPDATE 1', 'SELECT 0']);
  });

  it('a failed block ended by an Execute of ROLLBACK: the Parse that waited behind it still gets its LOCK (refused 55P03 while a migration holds the table)', async () => {
    // pg/failed-block.ts: Gatehouse sends no LOCK ahead of a message while the server is certainly in a
    // failed block; an Execute that completes (here the ROLLBACK) ends that certainty.
    const migration = new pg.Client({ connectionString: t.upstreamUrl });
    await migration.connect();
    const w = await WireClient.connect(t.port, token);
    let groups: Message[][] = [];
    try {
      w.send(serialize.query('BEGIN; SELECT 1/0'));
      expect(errorCodes((await w.untilReady(1))[0]!)).toEqual(['22012']);
      await migration.query('BEGIN');
      await migration.query(`LOCK TABLE ${B} IN ACCESS EXCLUSIVE MODE`);
      w.send(serialize.parse({ name: 'r17', text: 'ROLLBACK' }), serialize.bind({ statement: 'r17' }), serialize.execute({}), ...statement(`SELECT v FROM ${B}`), serialize.sync());
      // Without the LOCK the Parse waits behind the migration's lock (seen in pg_locks), answered only once it ends.
      const answered = w.untilReady(1).then((g) => (groups = g));
      await until(direct, `SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND relation = '${B}'::regclass AND ${OURS}`, () => groups.length > 0);
      expect(groups.length).toBe(1);
      await answered;
    } finally {
      await migration.query('ROLLBACK').catch(() => undefined);
      await migration.end();
      w.close();
    }
    expect(names(groups[0]!)).toEqual(['parseComplete', 'bindComplete', 'commandComplete', 'error', 'readyForQuery']);
    expect(errorCodes(groups[0]!)).toEqual(['55P03']);
    expect(groups[0]!.at(-1)).toMatchObject({ name: 'readyForQuery', status: 'I' });
  });
});

describe('a LOCK of Gatehouse\'s that fails other than on a lock held elsewhere says so', () => {
  const GONE = 'public.pgbench_lock17_gone';
  let t: TestGateway;
  let direct: pg.Client;

  beforeAll(async () => {
    // The catalog is read once at start and not again for the test's direct DROP (no poll, no peers, no
    // periodic read): the statement is decided, and its relation locked, on the definition read before it.
    t = await startTestGateway({ catalog: { lockPollMs: 0, peers: false, timing: { refreshAfterMs: 600_000, minBackoffMs: 1_000, maxBackoffMs: 30_000, minRefreshIntervalMs: 600_000 } } });
    direct = new pg.Client({ connectionString: t.upstreamUrl });
    await direct.connect();
  });
  afterAll(async () => {
    await direct?.query(`DROP TABLE IF EXISTS ${GONE}`);
    await direct?.end();
    await t?.close();
  });

  it('a relation dropped since the catalog was read: 42P01 with a detail naming Gatehouse\'s LOCK and a hint, no position into its text; audited as the statement\'s error', async () => {
    await direct.query(`DROP TABLE IF EXISTS ${GONE}; CREATE TABLE ${GONE} (id int, v text)`);
    const token = await t.token('lock17-gone@example.com', ['agents', 'bench']);
    const w = await WireClient.connect(t.port, token);
    const sql = `SELECT v FROM ${GONE}`;
    let group: Message[] = [];
    try {
      // Until the catalog read the CREATE owes has happened (refused with 55000 or 42P01 meanwhile).
      for (let i = 0; i < 100; i++) {
        w.send(serialize.query(sql));
        if (errorCodes((await w.untilReady(1))[0]!).length === 0) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      await direct.query(`DROP TABLE ${GONE}`);
      w.send(serialize.query(sql));
      group = (await w.untilReady(1))[0]!;
    } finally {
      w.close();
    }
    expect(names(group)).toEqual(['error', 'readyForQuery']);
    const error = group[0] as { code?: string; message?: string; detail?: string; hint?: string; position?: string };
    expect(error.code).toBe('42P01');
    expect(error.message).toBe('relation "public.pgbench_lock17_gone" does not exist');
    expect(error.detail).toMatch(/^Gatehouse locks public\.pgbench_lock17_gone \(LOCK TABLE \.\.\. NOWAIT\) before the statements that use them run/);
    expect(error.hint).toMatch(/dropped or renamed after Gatehouse last read the catalog/);
    expect(error.position).toBeUndefined();
    const stmt = t.audit().filter((r) => r.type === 'statement' && r.statement === recorded(sql)).at(-1);
    const records = await t.auditUntil((r) => r.some((x) => x.type === 'outcome' && stmt?.type === 'statement' && x.decision_id === stmt.decision_id));
    const outcome = records.find((r): r is Extract<AuditRecord, { type: 'outcome' }> => r.type === 'outcome' && stmt?.type === 'statement' && r.decision_id === stmt.decision_id);
    expect(outcome?.outcome).toMatchObject({ status: 'error', sqlstate: '42P01' });
  });
});

