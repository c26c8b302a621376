// The lock prefix (enforce/lock-prefix.ts, red-team round 15, R15-1): Gatehouse sends
// `LOCK TABLE ... NOWAIT` ahead of a simple Query for the relations its decision checked. The client
// must see exactly what it would without it (results, command tags, transaction status, error
// positions, the error of a failed transaction), and when the LOCK cannot be had, Gatehouse's own 55P03
// with every statement of the string audited as refused and why. Checked against PostgreSQL directly.

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../src/audit/types.ts';
import { recorded, type TestGateway } from './support/harness.ts';
import { directSession } from './support/differential.ts';
import { until } from './support/migration-race.ts';
import { startTwoTables, type TwoTables } from './support/two-tables.ts';
import { psqlDirect, psqlVia } from './support/run-tool.ts';
import { errorCodes, names, serialize, WireClient, type Message } from './support/wire-client.ts';
import { openRaceSessions } from './support/arrival-race.ts';

const A = 'public.pgbench_lock16_a';
const B = 'public.pgbench_lock16_b';

describe('the lock prefix of a simple Query (R15-1)', () => {
  let t: TestGateway;
  let direct: pg.Client;
  let token: string;
  let fixture: TwoTables | undefined;

  beforeAll(async () => {
    fixture = await startTwoTables(A, B, 'lock16@example.com');
    ({ t, direct, token } = fixture);
  });
  afterAll(() => fixture?.close());

  /** Sends the same Query messages through Gatehouse and straight to PostgreSQL; returns both answers. */
  async function bothWays(...queries: string[]): Promise<{ gh: Message[][]; pg: Message[][] }> {
    const w = await WireClient.connect(t.port, token);
    const d = await directSession(t.upstreamUrl);
    try {
      const gh: Message[][] = [];
      const truth: Message[][] = [];
      for (const q of queries) {
        w.send(serialize.query(q));
        gh.push(...(await w.untilReady(1)));
        d.send(serialize.query(q));
        truth.push(...(await d.untilReady(1)));
      }
      return { gh, pg: truth };
    } finally {
      w.close();
      d.close();
    }
  }

  it('was sent: PostgreSQL saw the LOCK ahead of the string (pg_stat_activity), for the relations the decision checked', async () => {
    const c = await t.client(token);
    try {
      const pid = ((await c.query(`SELECT pg_backend_pid() AS pid FROM ${A} LIMIT 1`)).rows[0] as { pid: number }).pid;
      const seen = ((await direct.query('SELECT query FROM pg_stat_activity WHERE pid = $1', [pid])).rows[0] as { query: string }).query;
      expect(seen).toBe(`LOCK TABLE "public"."pgbench_lock16_a" IN ACCESS SHARE MODE NOWAIT; SELECT pg_backend_pid() AS pid FROM ${A} LIMIT 1`);
    } finally {
      await c.end();
    }
  });

  it('leaves results, command tags and transaction status as PostgreSQL gives them without it (raw protocol, message for message)', async () => {
    const { gh, pg: truth } = await bothWays(
      `SELECT id, v FROM ${A} ORDER BY id; UPDATE ${A} SET v = 'a' WHERE id = 1; INSERT INTO ${B} VALUES (3, 'c'); DELETE FROM ${B} WHERE id = 3`,
      `BEGIN; SELECT count(*) FROM ${A}`,
      `SELECT v FROM ${A} WHERE id = 2; UPDATE ${B} SET v = 'x' WHERE false`,
      'COMMIT',
      `SELECT id FROM ${A} WHERE id = 1`,
    );
    expect(gh).toEqual(truth);
    expect(gh.map((g) => (g.at(-1) as { status?: string }).status)).toEqual(['I', 'T', 'T', 'I', 'I']);
    expect(names(gh[0]!)).toEqual(['rowDescription', 'dataRow', 'dataRow', 'commandComplete', 'commandComplete', 'commandComplete', 'commandComplete', 'readyForQuery']);
  });

  it('errors as PostgreSQL gives them: positions count from the client text, a failed transaction answers 25P02 as without the LOCK', async () => {
    const { gh, pg: truth } = await bothWays(
      `SELECT 1; SELECT nosuch FROM ${A}`,
      'BEGIN',
      'SELECT 1/0',
      `SELECT * FROM ${A}; SELECT * FROM ${B}`,
      'ROLLBACK',
    );
    expect(gh).toEqual(truth);
    expect((gh[0]!.find((m) => m.name === 'error') as { position?: string }).position).toBe('18');
    expect(errorCodes(gh[3]!)).toEqual(['25P02']);
  });

  it('node-postgres and psql see the same results, tags and error text through Gatehouse as directly', async () => {
    const sql = `SELECT id, v FROM ${A} ORDER BY id; UPDATE ${A} SET v = v WHERE id = 2; SELECT count(*)::int AS n FROM ${B}`;
    const c = await t.client(token);
    try {
      const via = (await c.query(sql)) as unknown as pg.QueryResult[];
      const truth = (await direct.query(sql)) as unknown as pg.QueryResult[];
      expect(via.map((r) => [r.command, r.rowCount, r.rows])).toEqual(truth.map((r) => [r.command, r.rowCount, r.rows]));
    } finally {
      await c.end();
    }
    const bad = `SELECT id FROM ${A} ORDER BY id; SELECT nosuch FROM ${A}`;
    const [pv, pd] = await Promise.all([psqlVia(t.port, token, ['-c', sql, '-c', bad]), psqlDirect(t.upstreamUrl, ['-c', sql, '-c', bad])]);
    expect(String(pv.stdout)).toBe(String(pd.stdout));
    expect(String(pv.stderr)).toBe(String(pd.stderr)); // LINE 1 and its caret: the position
    expect(String(pv.stderr)).toContain('column "nosuch" does not exist');
  });

  it('a LOCK that cannot be had when the string starts: Gatehouse 55P03, and every statement of the string audited as refused and why', async () => {
    const { holder, migration, w, end } = await openRaceSessions({ gateway: t, token });
    const second = `SELECT count(*) FROM ${B}; SELECT v FROM ${A} WHERE id = 2`;
    let groups: Message[][] = [];
    try {
      // Any catalog read still owed (after the tables were made) is done first: the pair below is decided at once.
      w.send(serialize.query(`SELECT count(*) FROM ${B}`));
      expect(errorCodes((await w.untilReady(1))[0]!)).toEqual([]);
      await holder.query('BEGIN');
      await holder.query(`SELECT id FROM ${A} WHERE id = 1 FOR UPDATE`);
      // Decided once the first Query, which waits for the row, is answered (pg/statement-order.ts), then run LOCK first.
      w.send(serialize.query(`UPDATE ${A} SET v = 'z' WHERE id = 1`), serialize.query(second));
      await until(direct, `SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND locktype = 'transactionid' AND pid IN (SELECT pid FROM pg_stat_activity WHERE datname = current_database())`);
      await migration.query('BEGIN');
      await migration.query(`ALTER TABLE ${B} ADD COLUMN w int`);
      await holder.query('COMMIT');
      groups = await w.untilReady(2);
      // Nothing of the refused string ran: it holds no lock, and the migration goes on.
      await migration.query('COMMIT');
    } finally {
      await end();
      await direct.query(`ALTER TABLE ${B} DROP COLUMN IF EXISTS w`);
      await direct.query(`UPDATE ${A} SET v = 'a' WHERE id = 1`);
    }
    expect(names(groups[0]!)).toEqual(['commandComplete', 'readyForQuery']);
    expect(names(groups[1]!)).toEqual(['error', 'readyForQuery']);
    const error = groups[1]![0] as { code?: string; message?: string; detail?: string; hint?: string };
    expect(error.code).toBe('55P03');
    expect(error.message).toMatch(/^Gatehouse refused this statement: another transaction holds or waits for a lock on a relation this query string uses \(could not obtain lock on relation "public.pgbench_lock16_b"\)/);
    expect(error.detail).toMatch(/^decision [0-9a-f-]{36}$/);
    expect(error.hint).toMatch(/^Retry after the transaction changing it commits or rolls back/);

    const texts = second.split('; ').map((s) => recorded(s));
    const outcomes = (records: AuditRecord[]): Array<Extract<AuditRecord, { type: 'outcome' }>['outcome']> => {
      // The latest record of each statement (earlier tests ran the same shapes).
      const ids = texts.map((text) => records.filter((r) => r.type === 'statement' && r.statement === text).at(-1)).flatMap((r) => (r?.type === 'statement' ? [r.decision_id] : []));
      return records.flatMap((r) => (r.type === 'outcome' && ids.includes(r.decision_id) ? [r.outcome] : []));
    };
    const found = outcomes(await t.auditUntil((r) => outcomes(r).length >= 2));
    expect(found).toHaveLength(2);
    for (const o of found) {
      expect(o.status).toBe('refused');
      expect(o).toMatchObject({ sqlstate: '55P03' });
      expect((o as { reason?: string }).reason).toMatch(/Gatehouse locks public.pgbench_lock16_a, public.pgbench_lock16_b before the string runs/);
    }
  });
});
