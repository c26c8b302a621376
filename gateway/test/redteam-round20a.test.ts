// Red-team round 20a, against main as it is: the post-write pin check under cancel and savepoints,
// two-phase commit, cursors, writes with RETURNING in the extended protocol, snapshots that outlive a
// policy or catalog change, and temporary objects shadowing names. Real Gatehouse, real PostgreSQL,
// both engines; each test asserts the SECURE behaviour.
//
// Run: GATEHOUSE_TEST_DB=gh_rt20a npx vitest run --project integration gateway/test/redteam-round20a.test.ts

import { rmSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUNCTION_DIGEST_OF } from '../src/pg/relation-triggers.ts';
import { ensureClinicDatabase, startTestGateway, type TestGateway } from './support/harness.ts';
import { raceTriggerReplace, type TriggerRace } from './support/trigger-race.ts';
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

/** Messages as text, error and notice fields included (pg-protocol keeps an error's message off JSON). */
const shown = (x: unknown): string =>
  JSON.stringify(x, (_k, v: unknown) => (v instanceof Error ? { ...v, message: v.message } : v));

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
      t = await startTestGateway({ engine, policiesDir: dir, upstreamUrl: url });
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
  });
}

async function waitForSql(c: pg.Client, sql: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if ((await c.query(sql)).rows.length > 0) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for: ${sql}`);
}
