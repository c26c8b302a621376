// Red-team round 19a, against this session's data-path merges: lockall19 (every extended statement naming
// relations gets a DO block of LOCK TABLE ... NOWAIT, prepared once per relation set and session under
// reserved names: pg/lock-statements.ts), fnpin19 (an approved write's patient block, one-shot) and hot19
// (the per-session memo of the decision-cache key: policy/input-key-memo.ts). Method as in rounds 14-18a:
// a migration (uncommitted) holds a relation the gateway's decision never sees (the lock poll is off),
// both engines, real PostgreSQL, real clients; each test asserts the SECURE behaviour.
//
// Found:
// - R19a-1 (high, fixed): lockall19's prepared lock block is trusted once its Parse was answered, and forgotten
//   only when a DEALLOCATE or DISCARD goes up through Gatehouse. A function the agent may call (here
//   public.pgbench_rt19a_reset, plpgsql, allowed as a bench routine) runs `DEALLOCATE <name>; PREPARE <name> AS
//   SELECT WHERE false` for each `DO $gatehouse$...` in pg_prepared_statements (SQL PREPARE of a reserved
//   name is refused only when Gatehouse sees it): Gatehouse's next Bind/Execute/Close of the block ran that
//   no-op with the same number of answers, nothing was locked, and an extended read of a bench table waited
//   for a migration turning it into a view of clinical.patients.ssn and returned the SSN (both engines).
//   The same with a write: an INSERT behind it ran on the new definition (into the view). Fixed:
//   (a) pg/lock-answers.ts: the block's Execute must answer with the tag DO (SQL PREPARE cannot make a DO),
//   else the session ends (08P01) before any answer behind it is relayed; (b) pg/arrival-locks.ts
//   lockReuseSafe: only a plain read (SELECT, no table written, no function called) reuses a prepared
//   block; anything else gets the one-shot block, which parses its own statement each time (a write behind
//   a replaced block would have run, and may commit at the Sync before the Terminate is read).
//   Left: a plain SELECT reading a view whose definition calls a writing function still reuses the block;
//   with the block replaced and a migration racing it, that function's writes may run on the new
//   definition (its rows are never relayed). Not tested.
//
// Held (tried, tests below):
// - lockall19's claim that a prepared block's names are resolved by PL/pgSQL at each run: a bench table
//   renamed away and recreated under its name (a new oid) after the session prepared its block, then held
//   by a migration turning it into a view of the SSNs: the reused prepared block locks the new table (55P03),
//   no SSN. (A DO statement is a utility statement: its body is handed to the inline handler, compiled
//   afresh, at every Execute of the prepared statement.)
// - hot19's key memo across a search_path change between two identical extended statements (the bare name
//   resolving to another schema's table): the second statement is decided on its own relations.
// Held (by reading):
// - hot19's memo (policy/input-key-memo.ts) reuses a key only when every path read is === a primitive, the
//   same object frozen throughout (frozenJson made its JSON: it can never change), or an empty array both
//   times; anything else (parameters, catalog facts, per-statement objects) makes the key afresh, and
//   inputKey reads exactly the same paths the same way (valueAt as inputKey's lookup). The reads object and
//   prefix must be the same ones (another engine, another policy set: afresh), and a policy activation
//   empties the cache by revision anyway. SET ROLE, SET search_path, application_name change primitives or
//   the session part: afresh. No wrong "unchanged" found.
// - SQL PREPARE/EXECUTE of a reserved name in any case or quoted (the parser folds: refused before policy).

import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TestGateway } from './support/harness.ts';
import { expectLockRefusal, raceMigration, type Race } from './support/arrival-race.ts';
import { useRedTeamFixture } from './support/redteam-fixture.ts';
import { errorCodes, names, rowsOf, serialize, WireClient, type Message } from './support/wire-client.ts';

const B = 'public.pgbench_rt19a_b';
const PATIENTS = 'clinical.patients';
const FN = 'public.pgbench_rt19a_reset';

const CLEANUP = `DO $$BEGIN IF EXISTS (SELECT 1 FROM pg_views WHERE schemaname = 'public' AND viewname = 'pgbench_rt19a_b') THEN DROP VIEW ${B}; END IF; END$$;
DROP TABLE IF EXISTS ${B}, public.pgbench_rt19a_old, public.pgbench_rt19a_gone; DROP FUNCTION IF EXISTS ${FN}();`;
const SETUP = `CREATE TABLE ${B} (id int, v text); INSERT INTO ${B} VALUES (1, 'b');`;

/** B becomes a view of the SSNs under its name, and back. */
const TO_VIEW = `ALTER TABLE ${B} RENAME TO pgbench_rt19a_old; CREATE VIEW ${B} AS SELECT id, ssn AS v FROM ${PATIENTS}`;
const FROM_VIEW = `DROP VIEW ${B}; ALTER TABLE public.pgbench_rt19a_old RENAME TO pgbench_rt19a_b`;

/** Parse, Bind, Describe, Execute of the unnamed statement and portal. */
const statement = (text: string): Buffer[] => [serialize.parse({ text }), serialize.bind({}), serialize.describe({ type: 'P' }), serialize.execute({})];
const READ_B = `SELECT v FROM ${B} WHERE id = 1`;

/**
 * A plpgsql function (allowed to bench agents as any pgbench_ routine is) that replaces each of the
 * session's prepared Gatehouse lock blocks by a statement of its own under the same name: what any user
 * function running dynamic SQL can do (a DEALLOCATE and a PREPARE inside a function are not seen by Gatehouse).
 */
const REPLACE_BLOCKS = `CREATE OR REPLACE FUNCTION ${FN}() RETURNS int LANGUAGE plpgsql AS $f$
DECLARE s record; n int := 0;
BEGIN
  FOR s IN SELECT name FROM pg_prepared_statements WHERE statement LIKE 'DO $gatehouse$%' LOOP
    EXECUTE format('DEALLOCATE %I', s.name);
    EXECUTE format('PREPARE %I AS SELECT WHERE false', s.name);
    n := n + 1;
  END LOOP;
  RETURN n;
END $f$`;

describe.each(['rego', 'cedar'] as const)('red-team round 19a (%s)', (engine) => {
  const rt = useRedTeamFixture({
    engine,
    database: 'rt19a',
    cleanup: CLEANUP,
    setup: SETUP,
    agent: { subject: 'rt19a-agent', groups: ['agents', 'bench'] },
    gateway: { catalog: { lockPollMs: 0 } },
  });
  let t: TestGateway, direct: pg.Client, ssn: string, token: string;

  beforeAll(async () => {
    ({ gateway: t, direct, ssn } = rt);
    token = await t.token('rt19a-agent', ['agents', 'bench']);
  });

  const race = (r: Race): Promise<Message[][]> => raceMigration({ gateway: t, direct, token }, r);

  /** The read of B once through the session, so that its lock block is prepared (and trusted) there. */
  const primeBlock = async (w: WireClient): Promise<void> => {
    w.send(...statement(READ_B), serialize.sync());
    const [g] = await w.untilReady(1);
    expect(errorCodes(g!)).toEqual([]);
    w.send(...statement(READ_B), serialize.sync()); // the second use runs the prepared block (Bind, Execute, Close)
    expect(errorCodes((await w.untilReady(1))[0]!)).toEqual([]);
  };

  it('held: the prepared lock block of B, reused after B was renamed away and recreated under its name (a new oid), locks the new B: a migration of it refuses the read (55P03), no SSN', async () => {
    const recreate = async (w: WireClient): Promise<void> => {
      await primeBlock(w);
      await direct.query(`ALTER TABLE ${B} RENAME TO pgbench_rt19a_gone; CREATE TABLE ${B} (id int, v text); INSERT INTO ${B} VALUES (1, 'b2')`);
    };
    try {
      const groups = await race({ ddl: TO_VIEW, undo: FROM_VIEW, relation: B, before: recreate, send: (w) => (w.send(...statement(READ_B), serialize.sync()), w.untilReady(1)) });
      expectLockRefusal(groups[0]!, ssn);
    } finally {
      await direct.query(`DROP TABLE IF EXISTS public.pgbench_rt19a_gone`);
    }
  });

  it('R19a-1: a user function replacing the session\'s prepared lock block (DEALLOCATE and PREPARE of its reserved name, unseen by Gatehouse) does not let a read of B run unlocked while a migration turns B into a view of the SSNs', async () => {
    await direct.query(REPLACE_BLOCKS);
    const replace = async (w: WireClient): Promise<void> => {
      await primeBlock(w);
      w.send(serialize.query(`SELECT ${FN}() AS replaced`));
      const [g] = await w.untilReady(1);
      expect(errorCodes(g!), JSON.stringify(g)).toEqual([]);
      expect(rowsOf(g!)).toEqual([['1']]);
    };
    /** Everything the client hears until ReadyForQuery or the end of the session. */
    const heard = async (w: WireClient): Promise<Message[][]> => {
      const all: Message[] = [];
      for await (const m of w.untilClosed()) {
        all.push(m);
        if (m.name === 'readyForQuery') break;
      }
      return [all];
    };
    const groups = await race({ ddl: TO_VIEW, undo: FROM_VIEW, relation: B, before: replace, send: (w) => (w.send(...statement(READ_B), serialize.sync()), heard(w)) });
    const group = groups[0]!;
    expect(JSON.stringify(group)).not.toContain(ssn);
    expect(names(group)).toEqual(['error']); // nothing of the statement: the session ends on the replaced block's tag
    expect(errorCodes(group)).toEqual(['08P01']);
  });

  it('R19a-1, a write: an INSERT into B primed (its block prepared), the block replaced by the function, then the INSERT again while a migration turns B into an updatable view of the SSNs: refused (55P03), nothing written through the view', async () => {
    await direct.query(REPLACE_BLOCKS);
    const insert = (id: number): Buffer[] => [serialize.parse({ text: `INSERT INTO ${B} (id, v) VALUES (${id}, 'w')` }), serialize.bind({}), serialize.execute({})];
    const replace = async (w: WireClient): Promise<void> => {
      for (const id of [90, 91]) {
        w.send(...insert(id), serialize.sync());
        expect(errorCodes((await w.untilReady(1))[0]!)).toEqual([]);
      }
      w.send(serialize.query(`SELECT ${FN}() AS replaced`));
      expect(errorCodes((await w.untilReady(1))[0]!)).toEqual([]);
    };
    try {
      const groups = await race({ ddl: TO_VIEW, undo: FROM_VIEW, relation: B, before: replace, send: (w) => (w.send(...insert(9019), serialize.sync()), w.untilReady(1)) });
      expectLockRefusal(groups[0]!, ssn);
      expect((await direct.query('SELECT count(*)::int AS n FROM clinical.patients WHERE id = 9019')).rows[0]).toEqual({ n: 0 });
    } finally {
      await direct.query(`DELETE FROM clinical.patients WHERE id = 9019`).catch(() => undefined);
      await direct.query(`DELETE FROM ${B} WHERE id IN (90, 91)`);
    }
  });

  it('held: the key memo across a search_path change: the same extended text naming a bare table decided again on the schema it now resolves to', async () => {
    const w = await WireClient.connect(t.port, token);
    try {
      w.send(...statement('SELECT v FROM pgbench_rt19a_b WHERE id = 1'), serialize.sync());
      expect(errorCodes((await w.untilReady(1))[0]!)).toEqual([]);
      w.send(serialize.query('SET search_path = clinical, public'));
      await w.untilReady(1);
      // clinical has no pgbench_rt19a_b: the same text still reads public's; now a bare name that exists in clinical
      w.send(...statement('SELECT ssn FROM patients WHERE id = 1'), serialize.sync());
      const [g] = await w.untilReady(1);
      expect(JSON.stringify(g)).not.toContain(ssn);
      w.send(serialize.query('SET search_path = public'));
      await w.untilReady(1);
      w.send(...statement('SELECT ssn FROM patients WHERE id = 1'), serialize.sync());
      const [h] = await w.untilReady(1);
      expect(JSON.stringify(h)).not.toContain(ssn);
      expect(names(h!)).toContain('error'); // public.patients does not exist
    } finally {
      w.close();
    }
  });
});
