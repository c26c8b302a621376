// Red-team round 20a, against main as it is: the post-write pin check under cancel and savepoints,
// two-phase commit, cursors, writes with RETURNING in the extended protocol, snapshots that outlive a
// policy or catalog change, and temporary objects shadowing names. Real Gatehouse, real PostgreSQL,
// both engines; each test asserts the SECURE behaviour. Seeded secrets must reach the client by no route
// (rows, errors, notices) nor the audit log.
//
// Findings:
// R20a-1 (high, fixed; needs DDL on the server, as R18b-3, whose fix it defeated): the check appended to a
//   simple Query with a pinned write runs after the string's LAST statement, and the string's output is
//   held until it answers; but an error of a client statement released what was held before it, as "the
//   statement's own error". A statement after the write that fails (`; SELECT 1/0`), or that the client
//   cancels (`; SELECT pg_sleep(30)` and a CancelRequest), ended the string before the check: the write's
//   RETURNING rows, holding what the replaced body copied there (the stored secret), went to the client
//   raw, and the failing statement's own error could quote it too (`SELECT note::int ...`: 22P02 "invalid
//   input syntax ... "<secret>""). The transaction was rolled back, so nothing was committed. Fixed
//   (enforce/function-pins.ts pinsNotLast): a pinned write must be the last statement of its string;
//   anything after it (transaction control, as before, and any other statement) is refused (0A000), nothing
//   run. Holding the failing statement's error too would still have let its SQLSTATE answer a question
//   about what the body wrote; checking right after the write would need the check spliced into the middle
//   of the client's text.
// R20a-4 (high, fixed; same premise as R20a-1): with the write last in its string, its own error went to the
//   client as the server sent it, scrubbed as any write under a mask is (detail withheld, and the message
//   when routine code raised it); a built-in error raised after the replaced body ran, outside it, kept its
//   message: `RETURNING note::int` failed its cast with 22P02 "invalid input syntax for type integer:
//   "<secret>"". (A pinned write to a table not masked for the writer was not scrubbed at all.) Fixed
//   (pg/pin-check.ts answersCheckedWrite, pg/value-detail.ts): every error and notice answering the checked
//   write has its message withheld as a routine's would be; the SQLSTATE is kept (a replaced body can choose
//   one anyway: a bit per raced attempt, noted, not closed).
// R20a-5 (high, fixed; same premise as R20a-1, plus a schema with two operators on the server): the check is
//   SQL appended to the writer's own Query, so its operators resolved through the writer's search_path, which
//   agents may SET. A schema placed before pg_catalog (`SET search_path = r20a_evil, pg_catalog, public`)
//   holding `=` and `<>` on text that answer "equal" made IS DISTINCT FROM and <> in the check say
//   "unchanged": a replaced body ran, its RETURNING showed the secret and the write committed. (The write
//   itself must name no such operator: Gatehouse refuses a statement naming a user-defined `=` under a mask,
//   so it says BETWEEN.) Fixed (pg/pin-check.ts): the DO block sets search_path to `pg_catalog, pg_temp`
//   (LOCAL) before its query is parsed and puts the writer's path back after it. The mask expressions
//   already qualify every operator (OPERATOR(pg_catalog.<=)); the lock blocks hold LOCK statements only.
// R20a-2 and R20a-3 (snapshots and cursors across a policy activation, open) and area 6 (temporary
// objects): redteam-round20a-activation.test.ts.
//
// Held (tests below):
// - Area 1: the write inside EXPLAIN ANALYZE or a WITH query under the same race: nothing shown or committed.
// - Area 1: a CancelRequest while a replaced trigger body runs (it copied the secret, raised it in a
//   notice, then sleeps): 57014, nothing held shown, nothing committed, the session's next query answered
//   in step. A cancel during the check itself fails the transaction and drops the held output (read).
// - Area 2: a failed check in a block, then ROLLBACK TO a savepoint set before the write: the write is
//   undone with it, the block goes on and commits nothing of the body; SAVEPOINT, the write and ROLLBACK
//   TO in one string: refused, nothing run. PREPARE TRANSACTION is denied to agents by the example
//   policies (and the test server has max_prepared_transactions = 0, so COMMIT PREPARED was not run).
// - Area 3: SCROLL and WITH HOLD cursors over the masked table and clinical.patients (whole rows too),
//   across COMMIT, with MOVE, FETCH BACKWARD/PRIOR/LAST: masked values only; WHERE CURRENT OF a cursor over
//   the derived table fails. A function's refcursor: user functions are denied to agents, and a portal
//   Gatehouse did not bind or see DECLAREd is refused (34000; docs/data-path.md), not tried further.
// - Area 4: extended-protocol RETURNING of a masked column or * of the target: 42501; INSERT ... SELECT,
//   UPDATE ... FROM, MERGE ... USING the masked table into a plain one move '***'; a write of the masked
//   table reading its masked column through a sub-SELECT, MERGE SET, a self-join or to_jsonb(whole row): 42501.
//
// Run: GATEHOUSE_TEST_DB=gh_rt20a npx vitest run --project integration gateway/test/redteam-round20a.test.ts

import { rmSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUNCTION_DIGEST_OF } from '../src/pg/relation-triggers.ts';
import { auditText, ensureClinicDatabase, startTestGateway, type TestGateway } from './support/harness.ts';
import { nonSuperuserUpstream } from './support/upstream-role.ts';
import { shown } from './support/shown-text.ts';
import { raceTriggerReplace, type TriggerRace } from './support/trigger-race.ts';
import { waitFor } from './support/wait-for.ts';
import { WireClient, serialize, type Message } from './support/wire-client.ts';
import { writerPolicyDir } from './support/writer-policies.ts';

const SECRET = '731-20-4242';

const PINNED_PATH = 'SET search_path = public, pg_temp';
const fn = (body: string): string => `CREATE OR REPLACE FUNCTION clinical.r20a_keep_history() RETURNS trigger LANGUAGE plpgsql ${PINNED_PATH} AS $$${body}$$`;
const ORIGINAL = fn(`
BEGIN
  INSERT INTO r20a_history VALUES (OLD.id, OLD.secret);
  RETURN NEW;
END`);
/** R18b-3's replaced body: copies the stored secret into note, which the writer reads unmasked. */
const REPLACED = fn(' BEGIN NEW.note := OLD.secret; RETURN NEW; END ');

const SETUP = `
CREATE TABLE public.r20a_history (id integer, secret text);
CREATE TABLE public.r20a_plain (id integer, v text);
CREATE TABLE clinical.r20a_kept (id integer PRIMARY KEY, note text, secret text);
INSERT INTO clinical.r20a_kept VALUES (1, 'n', '${SECRET}'), (2, 'm', '${SECRET}');
INSERT INTO public.r20a_plain VALUES (1, 'p');
${ORIGINAL};
CREATE TRIGGER r20a_kept BEFORE UPDATE ON clinical.r20a_kept FOR EACH ROW EXECUTE FUNCTION clinical.r20a_keep_history();
`;
const CLEANUP = `
DROP TABLE IF EXISTS clinical.r20a_kept, public.r20a_history, public.r20a_plain CASCADE;
DROP FUNCTION IF EXISTS clinical.r20a_keep_history();
`;

const WRITE = "UPDATE clinical.r20a_kept SET note = 'z' WHERE id = 1 RETURNING note";
/** The same write naming no = (Gatehouse refuses a statement naming a user-defined operator under a mask). */
const BETWEEN_WRITE = "UPDATE clinical.r20a_kept SET note = 'z' WHERE id BETWEEN 1 AND 1 RETURNING note";

/** Every message of one simple Query through the raw client, until its ReadyForQuery. */
async function simpleQuery(c: WireClient, sql: string): Promise<Message[]> {
  c.send(serialize.query(sql));
  return (await c.untilReady(1))[0]!;
}

for (const engine of ['rego', 'cedar'] as const) {
  describe(`red-team round 20a: the pin check after a write under a mask (${engine})`, () => {
    let t: TestGateway;
    let dir: string;
    let direct: pg.Client;
    let url: string;
    let race: TriggerRace;
    const writerToken = (): Promise<string> => t.token(`r20a-writer-${engine}`, ['r20a-writers']);

    beforeAll(async () => {
      url = await ensureClinicDatabase();
      direct = new pg.Client({ connectionString: url });
      await direct.connect();
      await direct.query(CLEANUP);
      await direct.query(SETUP);
      const digest = ((await direct.query(FUNCTION_DIGEST_OF, ['clinical.r20a_keep_history'])).rows[0] as { digest: string }).digest;
      dir = writerPolicyDir(engine, {
        prefix: 'r20a',
        masked: ['clinical.r20a_kept'],
        plain: ['public.r20a_plain'],
        writable: ['clinical.r20a_kept', 'public.r20a_plain'],
        reviewed: [`clinical.r20a_keep_history@${digest}`],
        adminWrites: 'public.r20a_history',
      });
      // Gatehouse's own role is not a superuser and cannot become the fixtures' owner (postgres): the
      // replacements in the races are an administrator's, which the pin check is about (issue 6).
      t = await startTestGateway({ engine, policiesDir: dir, upstreamUrl: await nonSuperuserUpstream(url) });
      race = { url, lockRow: 'SELECT 1 FROM clinical.r20a_kept WHERE id = 1 FOR UPDATE', writeLike: "r20a_kept SET note = 'z'", replaced: REPLACED, original: ORIGINAL };
    });
    afterAll(async () => {
      await direct?.query(CLEANUP).catch(() => undefined);
      await direct?.end();
      await t?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    const resetRows = async (): Promise<void> => {
      await direct.query(ORIGINAL);
      await direct.query("UPDATE clinical.r20a_kept SET note = CASE id WHEN 1 THEN 'n' ELSE 'm' END");
    };

    it('the premise: the writer reads secret masked, and R18b-3 alone (the write last in its string) is refused, nothing shown', async () => {
      const w = await WireClient.connect(t.port, await writerToken());
      try {
        const read = await simpleQuery(w, 'SELECT secret FROM clinical.r20a_kept WHERE id = 1');
        expect(shown(read)).not.toContain(SECRET);
        const got = await raceTriggerReplace(race, () => simpleQuery(w, WRITE));
        expect(shown(got)).not.toContain(SECRET);
        expect(got.find((m) => m.name === 'error')?.code).toBe('55000');
      } finally {
        w.close();
        await resetRows();
      }
    });

    // R20a-1: a statement after the write that fails (on its own, or by a cancel) ends the string before the
    // check; the held output of the write (its RETURNING) went to the client as "the statement's own error".
    for (const [what, after] of [
      ['a statement that fails', 'SELECT 1/0'],
      ['a read that fails quoting what the body wrote', 'SELECT note::int FROM clinical.r20a_kept WHERE id = 1'],
    ] as const) {
      it(`R20a-1: a replaced body's output is not shown when ${what} after the write`, async () => {
        const w = await WireClient.connect(t.port, await writerToken());
        try {
          const got = await raceTriggerReplace(race, () => simpleQuery(w, `${WRITE}; ${after}`));
          const stored = (await direct.query('SELECT note FROM clinical.r20a_kept WHERE id = 1')).rows;
          expect(shown([got, stored])).not.toContain(SECRET);
          // Refused before anything ran (0A000): the write must be the last statement of its string.
          expect(got.filter((m) => m.name === 'error').map((m) => m.code)).toEqual(['0A000']);
          expect(stored).toEqual([{ note: 'n' }]);
        } finally {
          w.close();
          await resetRows();
        }
      });
    }

    // R20a-4: the write's own error, raised by a built-in (no routine context) while computing RETURNING from
    // what the replaced body wrote, kept its message: the cast error quotes the value.
    it('R20a-4: the write\'s own error computed from what a replaced body wrote does not quote it', async () => {
      const w = await WireClient.connect(t.port, await writerToken());
      try {
        const got = await raceTriggerReplace(race, () => simpleQuery(w, "UPDATE clinical.r20a_kept SET note = 'z' WHERE id = 1 RETURNING note::int"));
        const stored = (await direct.query('SELECT note FROM clinical.r20a_kept WHERE id = 1')).rows;
        expect(shown([got, stored])).not.toContain(SECRET);
        // The SQLSTATE stays (22P02: the cast failed); the message is withheld. Nothing committed.
        expect(got.filter((m) => m.name === 'error').map((m) => m.code)).toEqual(['22P02']);
        expect(stored).toEqual([{ note: 'n' }]);
        // The same write casting the value it set itself: the check passes and nothing is withheld.
        const ok = await simpleQuery(w, "UPDATE clinical.r20a_kept SET note = '7' WHERE id = 1 RETURNING note::int");
        expect(ok.filter((m) => m.name === 'dataRow').map((m) => m.fields)).toEqual([['7']]);
      } finally {
        w.close();
        await resetRows();
      }
    });

    // The write inside EXPLAIN ANALYZE (it runs the write and fires the trigger) and inside a WITH query.
    for (const [what, sql] of [
      ['EXPLAIN ANALYZE', "EXPLAIN ANALYZE UPDATE clinical.r20a_kept SET note = 'z' WHERE id = 1"],
      ['a WITH query', "WITH u AS (UPDATE clinical.r20a_kept SET note = 'z' WHERE id = 1 RETURNING note) SELECT note FROM u"],
    ] as const) {
      it(`held: the write inside ${what} is checked: nothing of a replaced body is shown or committed`, async () => {
        const w = await WireClient.connect(t.port, await writerToken());
        try {
          const got = await raceTriggerReplace(race, () => simpleQuery(w, sql));
          const stored = (await direct.query('SELECT note FROM clinical.r20a_kept WHERE id = 1')).rows;
          expect(shown([got, stored])).not.toContain(SECRET);
          expect(stored).toEqual([{ note: 'n' }]);
        } finally {
          w.close();
          await resetRows();
        }
      });
    }

    // R20a-5: the check is SQL run in the writer's session, so its operators resolve with the writer's
    // search_path: a schema placed before pg_catalog, holding `=` and `<>` on text that answer "equal",
    // makes every comparison of the check say "unchanged".
    it('R20a-5: operators on the writer\'s search_path do not make the check pass a replaced body', async () => {
      await direct.query(`DROP SCHEMA IF EXISTS r20a_evil CASCADE; CREATE SCHEMA r20a_evil;
        CREATE FUNCTION r20a_evil.eq(text, text) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT true';
        CREATE FUNCTION r20a_evil.ne(text, text) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT false';
        CREATE OPERATOR r20a_evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = r20a_evil.eq);
        CREATE OPERATOR r20a_evil.<> (LEFTARG = text, RIGHTARG = text, FUNCTION = r20a_evil.ne);`);
      const w = await WireClient.connect(t.port, await writerToken());
      try {
        const set = await simpleQuery(w, 'SET search_path = r20a_evil, pg_catalog, public');
        expect(set.filter((m) => m.name === 'error')).toEqual([]);
        // The write names no = or <> (Gatehouse refuses a statement naming a user operator under a mask).
        const got = await raceTriggerReplace(race, () => simpleQuery(w, BETWEEN_WRITE));
        const stored = (await direct.query('SELECT note FROM clinical.r20a_kept WHERE id = 1')).rows;
        expect(shown([got, stored])).not.toContain(SECRET);
        expect(stored).toEqual([{ note: 'n' }]);
        expect(got.filter((m) => m.name === 'error').map((m) => m.code)).toEqual(['55000']);
        // The check puts the writer's search_path back: a passing check in a block leaves SET LOCAL's path.
        // The race put the original function back; until Gatehouse's catalog has read it again, a write is
        // refused as reviewed for another definition (fail closed), so the block is retried until it runs.
        const inBlock = await waitFor('a write after the restored function, inside a block', async () => {
          await simpleQuery(w, 'BEGIN; SET LOCAL search_path = public, pg_catalog');
          const answer = await simpleQuery(w, BETWEEN_WRITE);
          if (answer.some((m) => m.name === 'error' && m.code === '0A000' && String((m as unknown as { message?: string }).message).includes('another definition'))) {
            await simpleQuery(w, 'ROLLBACK');
            return undefined;
          }
          return answer;
        });
        expect(inBlock.filter((m) => m.name === 'dataRow').map((m) => m.fields), shown(inBlock)).toEqual([['z']]);
        expect((await simpleQuery(w, 'SHOW search_path')).filter((m) => m.name === 'dataRow').map((m) => m.fields)).toEqual([['public, pg_catalog']]);
        await simpleQuery(w, 'ROLLBACK');
      } finally {
        w.close();
        await direct.query('DROP SCHEMA IF EXISTS r20a_evil CASCADE');
        await resetRows();
      }
    });

    it('R20a-1: a statement after the write that would be cancelled is refused too, nothing run', async () => {
      const w = await WireClient.connect(t.port, await writerToken());
      try {
        const got = await simpleQuery(w, `${WRITE}; SELECT pg_catalog.pg_sleep(30)`);
        expect(got.filter((m) => m.name === 'error').map((m) => m.code)).toEqual(['0A000']);
        // The write alone, last in its string, runs (the check passes) and commits.
        const ok = await simpleQuery(w, WRITE);
        expect(ok.filter((m) => m.name === 'dataRow').map((m) => m.fields)).toEqual([['z']]);
      } finally {
        w.close();
        await resetRows();
      }
    });

    // Area 1: a cancel while a replaced body runs (it copied the secret, raised it in a notice, then sleeps):
    // the write's own error, nothing held shown, and the session goes on in step.
    it('held: a cancel while the replaced body runs shows nothing of it, and the session stays in step', async () => {
      const w = await WireClient.connect(t.port, await writerToken());
      const sleeping = { ...race, replaced: fn(" BEGIN NEW.note := OLD.secret; RAISE NOTICE 'r20a %', OLD.secret; PERFORM pg_catalog.pg_sleep(30); RETURN NEW; END ") };
      try {
        const got = await raceTriggerReplace(sleeping, () => simpleQuery(w, WRITE), async (ddl) => {
          await waitForSql(ddl, "SELECT 1 FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND strpos(query, 'r20a_kept') > 0");
          await w.cancel();
        });
        const stored = (await direct.query('SELECT note FROM clinical.r20a_kept WHERE id = 1')).rows;
        expect(shown([got, stored])).not.toContain(SECRET);
        expect(got.filter((m) => m.name === 'error').map((m) => m.code)).toEqual(['57014']);
        expect(stored).toEqual([{ note: 'n' }]);
        const next = await simpleQuery(w, 'SELECT note FROM clinical.r20a_kept WHERE id = 1');
        expect(next.filter((m) => m.name === 'dataRow').map((m) => m.fields)).toEqual([['n']]);
        expect(next.at(-1)).toMatchObject({ name: 'readyForQuery', status: 'I' });
      } finally {
        w.close();
        await resetRows();
      }
    });

    // Area 2: savepoints around the check. A failed check fails the transaction; ROLLBACK TO a savepoint set
    // before the write undoes the write with it, so the block can go on with nothing of the replaced body.
    it('held: a failed check in a block, rolled back to a savepoint set before the write, leaves nothing behind', async () => {
      const w = await WireClient.connect(t.port, await writerToken());
      try {
        expect((await simpleQuery(w, 'BEGIN; SAVEPOINT s')).some((m) => m.name === 'error')).toBe(false);
        const got = await raceTriggerReplace(race, () => simpleQuery(w, WRITE));
        expect(got.filter((m) => m.name === 'error').map((m) => m.code)).toEqual(['55000']);
        const back = await simpleQuery(w, 'ROLLBACK TO SAVEPOINT s');
        const read = await simpleQuery(w, 'SELECT note FROM clinical.r20a_kept WHERE id = 1');
        const end = await simpleQuery(w, 'COMMIT');
        const stored = (await direct.query('SELECT note FROM clinical.r20a_kept WHERE id = 1')).rows;
        expect(shown([got, back, read, end, stored])).not.toContain(SECRET);
        expect(read.filter((m) => m.name === 'dataRow').map((m) => m.fields)).toEqual([['n']]);
        expect(stored).toEqual([{ note: 'n' }]);
      } finally {
        w.close();
        await resetRows();
      }
    });

    it('held: SAVEPOINT, the write and ROLLBACK TO SAVEPOINT in one string are refused, nothing run; PREPARE TRANSACTION is denied', async () => {
      const w = await WireClient.connect(t.port, await writerToken());
      try {
        await simpleQuery(w, 'BEGIN');
        const got = await simpleQuery(w, `SAVEPOINT s; ${WRITE}; ROLLBACK TO SAVEPOINT s`);
        expect(got.filter((m) => m.name === 'error').map((m) => m.code)).toEqual(['0A000']);
        await simpleQuery(w, 'ROLLBACK');
        await simpleQuery(w, 'BEGIN');
        expect((await simpleQuery(w, WRITE)).filter((m) => m.name === 'dataRow').map((m) => m.fields)).toEqual([['z']]);
        // Two-phase commit is not among the statements agents may run (the test server has max_prepared_transactions = 0).
        expect((await simpleQuery(w, "PREPARE TRANSACTION 'r20a'")).filter((m) => m.name === 'error').map((m) => m.code)).toEqual(['42501']);
        await simpleQuery(w, 'ROLLBACK');
      } finally {
        w.close();
        await resetRows();
      }
    });

    // Area 3: cursors over the masked table and over clinical.patients, WITH HOLD across the commit, scrolled.
    it('held: cursors (WITH HOLD across COMMIT, SCROLL, MOVE, FETCH BACKWARD) return masked values only', async () => {
      const c = await t.client(await writerToken());
      const ssn = ((await direct.query('SELECT ssn FROM clinical.patients WHERE id = 1')).rows[0] as { ssn: string }).ssn;
      const seen: unknown[] = [];
      try {
        await c.query('BEGIN');
        await c.query('DECLARE k SCROLL CURSOR WITH HOLD FOR SELECT id, secret, note, k.* FROM clinical.r20a_kept k ORDER BY id');
        await c.query('DECLARE p SCROLL CURSOR WITH HOLD FOR SELECT p.ssn, p.first_name, p FROM clinical.patients p ORDER BY id');
        await c.query('COMMIT');
        for (const sql of ['FETCH ALL FROM k', 'MOVE ABSOLUTE 0 IN k', 'FETCH NEXT FROM k', 'FETCH BACKWARD 1 FROM k', 'FETCH 3 FROM p', 'MOVE LAST IN p', 'FETCH PRIOR FROM p']) {
          seen.push((await c.query(sql)).rows);
        }
        await c.query('BEGIN');
        seen.push(await c.query("UPDATE clinical.r20a_kept SET note = 'c' WHERE CURRENT OF k").then((r) => r.rows, (e: pg.DatabaseError) => e.code));
        await c.query('ROLLBACK');
        expect(seen.flat().length).toBeGreaterThan(5);
        expect(shown(seen)).not.toContain(SECRET);
        expect(shown(seen)).not.toContain(ssn);
      } finally {
        await c.query('CLOSE ALL').catch(() => undefined);
        await c.end().catch(() => undefined);
      }
    });

    // Area 4: extended-protocol writes under the mask: RETURNING, INSERT ... SELECT, UPDATE ... FROM, MERGE.
    it('held: extended-protocol writes reading the masked table move and return masked values only', async () => {
      const c = await t.client(await writerToken());
      const outcomes: Array<[string, unknown]> = [];
      const run = async (text: string, values: unknown[]): Promise<void> => {
        outcomes.push([text, await c.query({ text, values }).then((r) => r.rows, (e: pg.DatabaseError) => ({ code: e.code, message: e.message, detail: e.detail }))]);
      };
      try {
        await c.query('BEGIN');
        await run('UPDATE clinical.r20a_kept SET note = $1 WHERE id = 2 RETURNING secret', ['x']);
        await c.query('ROLLBACK');
        await c.query('BEGIN');
        await run('UPDATE clinical.r20a_kept SET note = $1 WHERE id = 2 RETURNING *', ['x']);
        await c.query('ROLLBACK');
        await c.query('BEGIN');
        await run('INSERT INTO public.r20a_plain (id, v) SELECT id + $1, secret FROM clinical.r20a_kept RETURNING v', [10]);
        await run('UPDATE public.r20a_plain p SET v = k.secret FROM clinical.r20a_kept k WHERE k.id = p.id AND p.id = $1 RETURNING p.v', [1]);
        await run('MERGE INTO public.r20a_plain p USING clinical.r20a_kept k ON p.id = k.id + $1 WHEN MATCHED THEN UPDATE SET v = k.secret WHEN NOT MATCHED THEN INSERT VALUES (k.id + $1, k.secret)', [20]);
        await run('SELECT v FROM public.r20a_plain ORDER BY id', []);
        await c.query('ROLLBACK');
        await c.query('BEGIN');
        await run("INSERT INTO clinical.r20a_kept (id, note, secret) SELECT id + $1, secret, 'x' FROM clinical.r20a_kept RETURNING note", [30]);
        await c.query('ROLLBACK');
        await c.query('BEGIN');
        await run('MERGE INTO clinical.r20a_kept k USING (SELECT $1::int AS id) s ON k.id = s.id WHEN MATCHED THEN UPDATE SET note = k.secret', [2]);
        await c.query('ROLLBACK');
        await c.query('BEGIN');
        await run('UPDATE clinical.r20a_kept k SET note = s.secret FROM clinical.r20a_kept s WHERE s.id = k.id AND k.id = $1 RETURNING k.note', [2]);
        await c.query('ROLLBACK');
        await c.query('BEGIN');
        await run('UPDATE clinical.r20a_kept k SET note = to_jsonb(k) ->> $1 WHERE k.id = 2 RETURNING note', ['secret']);
        await c.query('ROLLBACK');
        const stored = (await direct.query('SELECT note FROM clinical.r20a_kept UNION ALL SELECT v FROM public.r20a_plain')).rows;
        expect(shown([outcomes, stored]), shown(outcomes)).not.toContain(SECRET);
        // RETURNING a masked column of the target is refused, not masked (docs/data-path.md).
        expect(outcomes[0]?.[1]).toMatchObject({ code: '42501' });
        expect(outcomes[1]?.[1]).toMatchObject({ code: '42501' });
        // Reading it in another table's write moves the masked value (INSERT ... SELECT, UPDATE ... FROM, MERGE USING).
        expect(outcomes[5]?.[1]).toEqual(Array.from({ length: 5 }, () => ({ v: '***' })));
        // A write of the masked table reading its masked column anywhere (SELECT, MERGE SET, FROM self, whole row) is refused.
        for (const i of [6, 7, 8, 9]) expect(outcomes[i]?.[1], outcomes[i]?.[0]).toMatchObject({ code: '42501' });
      } finally {
        await c.query('ROLLBACK').catch(() => undefined);
        await c.end().catch(() => undefined);
        await resetRows();
      }
    });

    it('the audit log holds no stored secret', () => {
      expect(auditText(t.auditFile)).not.toContain(SECRET);
    });
  });
}

async function waitForSql(c: pg.Client, sql: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if ((await c.query(sql)).rows.length > 0) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for: ${sql}`);
}
