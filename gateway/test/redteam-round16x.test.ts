// Red-team round 16, against lock16 (the lock prefix: `LOCK TABLE ... NOWAIT` sent ahead of a simple
// Query for the relations its decision checked, enforce/lock-prefix.ts; its CommandCompletes swallowed
// and its 55P03 turned into Gatehouse's refusal, pg/upstream-relay.ts). HEADER FILLED IN BELOW.

import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../src/audit/types.ts';
import type { Outcome } from './support/attempt.ts';
import { recorded, type TestGateway } from './support/harness.ts';
import { useRedTeamFixture } from './support/redteam-fixture.ts';
import { errorCodes, names, serialize, WireClient, type Message } from './support/wire-client.ts';

const CLEANUP = `
DROP TABLE IF EXISTS public.pgbench_rt16_alter, public.pgbench_rt16_warm, public.pgbench_rt16_drop, public.pgbench_rt16_parted CASCADE;
DROP OPERATOR CLASS IF EXISTS public.rt16_json_ops USING btree CASCADE;
DROP OPERATOR FAMILY IF EXISTS public.rt16_json_ops USING btree CASCADE;
DROP OPERATOR IF EXISTS public.<%% (json, json), public.<=%% (json, json), public.=%% (json, json), public.>=%% (json, json), public.>%% (json, json);
DROP FUNCTION IF EXISTS public.rt16_json_cmp(json, json), public.rt16_json_lt(json, json), public.rt16_json_le(json, json),
  public.rt16_json_eq(json, json), public.rt16_json_ge(json, json), public.rt16_json_gt(json, json) CASCADE;
`;

const SETUP = `
-- As in round 15: json gets a default btree operator class on a PL function that raises the SSN it reads.
CREATE FUNCTION public.rt16_json_cmp(json, json) RETURNS integer LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  RAISE NOTICE 'sorted next to %', (SELECT ssn FROM clinical.patients WHERE id = 1);
  RETURN bttextcmp($1::text, $2::text);
END $$;
CREATE FUNCTION public.rt16_json_lt(json, json) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT public.rt16_json_cmp($1, $2) < 0 $$;
CREATE FUNCTION public.rt16_json_le(json, json) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT public.rt16_json_cmp($1, $2) <= 0 $$;
CREATE FUNCTION public.rt16_json_eq(json, json) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT public.rt16_json_cmp($1, $2) = 0 $$;
CREATE FUNCTION public.rt16_json_ge(json, json) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT public.rt16_json_cmp($1, $2) >= 0 $$;
CREATE FUNCTION public.rt16_json_gt(json, json) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT public.rt16_json_cmp($1, $2) > 0 $$;
CREATE OPERATOR public.<%% (LEFTARG = json, RIGHTARG = json, FUNCTION = public.rt16_json_lt);
CREATE OPERATOR public.<=%% (LEFTARG = json, RIGHTARG = json, FUNCTION = public.rt16_json_le);
CREATE OPERATOR public.=%% (LEFTARG = json, RIGHTARG = json, FUNCTION = public.rt16_json_eq);
CREATE OPERATOR public.>=%% (LEFTARG = json, RIGHTARG = json, FUNCTION = public.rt16_json_ge);
CREATE OPERATOR public.>%% (LEFTARG = json, RIGHTARG = json, FUNCTION = public.rt16_json_gt);
CREATE OPERATOR CLASS public.rt16_json_ops DEFAULT FOR TYPE json USING btree AS
  OPERATOR 1 public.<%%, OPERATOR 2 public.<=%%, OPERATOR 3 public.=%%, OPERATOR 4 public.>=%%, OPERATOR 5 public.>%%,
  FUNCTION 1 public.rt16_json_cmp(json, json);
-- Text now; a migration turns it into json.
CREATE TABLE public.pgbench_rt16_alter (id integer, v text);
INSERT INTO public.pgbench_rt16_alter VALUES (1, '{"a": 1}'), (2, '{"b": 2}');
-- A table whose row an earlier statement of the agent's string waits for.
CREATE TABLE public.pgbench_rt16_warm (id integer PRIMARY KEY, v text);
INSERT INTO public.pgbench_rt16_warm SELECT g, 'x' FROM generate_series(1, 100) g;
-- A table dropped between a string's decision and its start.
CREATE TABLE public.pgbench_rt16_drop (id integer, v text);
-- A list-partitioned table of 200 partitions: a query naming one key is planned (and locked) on one.
CREATE TABLE public.pgbench_rt16_parted (k integer, v text) PARTITION BY LIST (k);
DO $$ BEGIN
  FOR i IN 1..200 LOOP
    EXECUTE format('CREATE TABLE public.pgbench_rt16_parted_%s PARTITION OF public.pgbench_rt16_parted FOR VALUES IN (%s)', i, i);
  END LOOP;
END $$;
INSERT INTO public.pgbench_rt16_parted SELECT g, 'p' FROM generate_series(1, 200) g;
`;

const ALTER = 'public.pgbench_rt16_alter';
const WARM = 'public.pgbench_rt16_warm';
const TO_JSON = `ALTER TABLE ${ALTER} ALTER COLUMN v TYPE json USING v::json`;
const PROBE = `SELECT DISTINCT v FROM ${ALTER} ORDER BY v`;

/** Polls `sql` (one row, column n) on `direct` until n > 0 or `stop()`. No duration asserted. */
async function until(direct: pg.Client, sql: string, stop: () => boolean = () => false): Promise<void> {
  for (let i = 0; i < 800; i++) {
    if (stop()) return;
    if (((await direct.query(sql)).rows[0] as { n: number }).n > 0) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`never true: ${sql}`);
}

/** Resolves when `done()` holds. */
async function untilTrue(done: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1600 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!done()) throw new Error(`never true: ${what}`);
}

const ROW_WAITER = `SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND locktype = 'transactionid'`;
const ALTER_WAITING = `SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND relation = '${ALTER}'::regclass AND mode = 'AccessExclusiveLock'`;

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
  beforeAll(() => {
    ({ gateway: t, direct, agent, ssn } = rt);
  });

  const upstreamClient = async (): Promise<pg.Client> => {
    const c = new pg.Client({ connectionString: t.upstreamUrl });
    await c.connect();
    return c;
  };

  /**
   * The race of R15-1, made deterministic: a direct transaction holds row `row` of WARM; the agent's
   * request (`send`) starts with an UPDATE of that row, so it waits there; then a migration alters ALTER
   * to json. With the string's relations locked from its start (secure), the ALTER waits for the string,
   * which runs text's DISTINCT; without (open), the ALTER is granted at once, the string's SELECT queues
   * behind it and runs json's user operator class at the migration's COMMIT (NOTICEs with the SSN).
   * `inBlock`: the agent's request runs inside its open transaction block (rolled back at the end).
   */
  async function migrationRace(row: number, send: () => Promise<unknown>, inBlock: () => Promise<void> = async () => undefined): Promise<{ result: unknown; alterWaited: boolean }> {
    const holder = await upstreamClient();
    const migration = await upstreamClient();
    migration.on('error', () => undefined);
    const state = { sent: false, altered: false };
    let result: unknown = null;
    let alterWaited = false;
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT id FROM ${WARM} WHERE id = ${row} FOR UPDATE`);
      const pending = send().then((r) => ((state.sent = true), r));
      await until(direct, ROW_WAITER);
      await migration.query('BEGIN');
      const altering = migration.query(TO_JSON).then(() => void (state.altered = true));
      await until(direct, ALTER_WAITING, () => state.altered);
      alterWaited = !state.altered;
      await holder.query('COMMIT'); // the UPDATE goes on; then the string's SELECT
      await untilTrue(() => state.sent || state.altered, 'the string or the migration went on');
      if (!state.sent) {
        await altering;
        await migration.query('COMMIT'); // the SELECT queued behind it goes on, on json
      }
      result = await pending;
      await inBlock(); // ends the agent's block, if any: the migration (waiting for it) goes on
      await altering;
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await migration.query('ROLLBACK').catch(() => undefined);
      await holder.end();
      await migration.end();
      await direct.query(`ALTER TABLE ${ALTER} ALTER COLUMN v TYPE text`);
    }
    return { result, alterWaited };
  }

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
    }
    expect(notices.some((n) => n.startsWith('sorted next to') && n.includes(ssn))).toBe(true);
  });

  it('held: the round-15 string itself (UPDATE then SELECT) makes the migration wait for it, and runs the definition it was decided with', async () => {
    const { result, alterWaited } = await migrationRace(3, () => attempt(agent, `UPDATE ${WARM} SET v = 'y' WHERE id = 3; ${PROBE}`));
    const o = result as Outcome;
    expect(JSON.stringify(o)).not.toContain(ssn);
    expect(o.code).toBeNull();
    expect(o.notices.filter((n) => n.startsWith('sorted next to'))).toEqual([]);
    expect(alterWaited).toBe(true);
  });

  // R16-1: the prefix is left off a string whose first statement is transaction control other than
  // BEGIN/START, or whose first word the regex does not read as BEGIN (a comment first); an agent puts one there.
  for (const [label, lead] of [
    ['a leading ROLLBACK (a WARNING outside a block, nothing else)', 'ROLLBACK; '],
    ['a leading COMMIT', 'COMMIT; '],
    ['a comment before BEGIN', '/* x */ BEGIN; '],
  ] as const) {
    it(`R16-1: ${label} takes the string out of the lock prefix: the migration is granted at once and the SELECT runs json's operator class`, async () => {
      const tail = lead.includes('BEGIN') ? '; COMMIT' : '';
      const { result, alterWaited } = await migrationRace(4, () => attempt(agent, `${lead}UPDATE ${WARM} SET v = 'y' WHERE id = 4; ${PROBE}${tail}`));
      const o = result as Outcome;
      expect(JSON.stringify(o)).not.toContain(ssn);
      expect(o.notices.filter((n) => n.startsWith('sorted next to'))).toEqual([]);
      expect(alterWaited).toBe(true);
    });
  }

  // R16-2: ROLLBACK TO is classified as keeping the string's locks; it releases every lock taken after its
  // savepoint, and a savepoint of an earlier Query of the block is older than the prefix.
  it("R16-2: ROLLBACK TO a savepoint set by an earlier Query releases the prefix's locks mid-string: the migration is granted and the SELECT runs json's operator class", async () => {
    await agent.query('BEGIN; SAVEPOINT rt16');
    const { result, alterWaited } = await migrationRace(
      5,
      () => attempt(agent, `SELECT 1; ROLLBACK TO SAVEPOINT rt16; UPDATE ${WARM} SET v = 'y' WHERE id = 5; ${PROBE}`),
      async () => void (await agent.query('ROLLBACK')),
    ).finally(() => agent.query('ROLLBACK').catch(() => undefined));
    const o = result as Outcome;
    expect(JSON.stringify(o)).not.toContain(ssn);
    expect(o.notices.filter((n) => n.startsWith('sorted next to'))).toEqual([]);
    expect(alterWaited).toBe(true);
  });

  // R16-3: R15-1 through an extended-protocol pipeline (not wrapped by lock16, documented open). The
  // ALTER starts only once the SELECT's decision is in the audit log, so this cannot pass by chance.
  it("R16-3 (R15-1, extended protocol): a pipelined SELECT decided while the UPDATE ahead of it waits runs the definition a migration committed meanwhile", async () => {
    const token = await t.token('rt16-agent', ['agents', 'bench']);
    const w = await WireClient.connect(t.port, token);
    const select = `SELECT DISTINCT v FROM ${ALTER} WHERE id > 0 ORDER BY v`;
    let groups: Message[][] = [];
    try {
      const { alterWaited } = await migrationRace(6, async () => {
        w.send(
          serialize.parse({ text: `UPDATE ${WARM} SET v = 'y' WHERE id = 6` }),
          serialize.bind({}),
          serialize.execute({}),
          serialize.parse({ text: select }),
          serialize.bind({}),
          serialize.execute({}),
          serialize.sync(),
        );
        await t.auditUntil((records) => records.some((r) => r.type === 'statement' && r.statement === recorded(select)));
        groups = await w.untilReady(1);
      });
      expect(alterWaited).toBe(true);
    } finally {
      w.close();
    }
    expect(JSON.stringify(groups)).not.toContain(ssn);
    expect(groups[0]!.filter((m) => m.name === 'notice' && String((m as { message?: string }).message).startsWith('sorted next to'))).toEqual([]);
  });

  // R16-4: LOCK TABLE on a partitioned table locks every partition; the statement itself, pruned at
  // planning, locks the one it reads.
  it('R16-4: a string reading one partition of a 200-partition table holds no more partition locks than PostgreSQL would take for it', async () => {
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
      await holder.query(`SELECT id FROM ${WARM} WHERE id = 7 FOR UPDATE`);
      const pending = attempt(agent, `UPDATE ${WARM} SET v = 'y' WHERE id = 7; ${read}`);
      await until(direct, ROW_WAITER);
      const waiter = `(SELECT pid FROM pg_locks WHERE NOT granted AND locktype = 'transactionid' LIMIT 1)`;
      held = ((await direct.query(partitionLocks(waiter))).rows[0] as { n: number }).n;
      await holder.query('COMMIT');
      expect((await pending).code).toBeNull();
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end();
    }
    expect(own).toBe(1);
    expect(held).toBeLessThanOrEqual(own); // 200: every partition, before the UPDATE ahead of it has run
  });

  it('held: a relation dropped between the decision and the LOCK: PostgreSQL\'s 42P01 for the statement, audited as its error, and the session goes on', async () => {
    const holder = await upstreamClient();
    const w = await WireClient.connect(t.port, await t.token('rt16-agent', ['agents', 'bench']));
    const second = `SELECT v FROM public.pgbench_rt16_drop; SELECT 2 AS two`;
    let groups: Message[][] = [];
    let after: Message[][] = [];
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT id FROM ${WARM} WHERE id = 8 FOR UPDATE`);
      w.send(serialize.query(`UPDATE ${WARM} SET v = 'y' WHERE id = 8`), serialize.query(second));
      await until(direct, ROW_WAITER);
      await t.auditUntil((records) => records.some((r) => r.type === 'statement' && r.statement === recorded('SELECT v FROM public.pgbench_rt16_drop')));
      await direct.query('DROP TABLE public.pgbench_rt16_drop');
      await holder.query('COMMIT');
      groups = await w.untilReady(2);
      w.send(serialize.query('SELECT 3 AS three'));
      after = await w.untilReady(1);
    } finally {
      w.close();
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end();
      await direct.query('CREATE TABLE IF NOT EXISTS public.pgbench_rt16_drop (id integer, v text)');
    }
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
  });
});
