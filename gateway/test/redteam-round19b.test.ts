// Red-team round 19b: session 19's data-path changes (fnpin19: the check after a simple Query's write
// under a mask that fires reviewed trigger functions, pg/pin-check.ts; lockall19: locks on arrival),
// attacked through a real Gatehouse and the real PostgreSQL, both engines. A writer under a mask must
// get no stored secret back, by any route.
//
// Findings:
// R19b-1 (high, fixed; needs DDL on the server, as R18b-3; defeats R18b-3's fix): the check compared the pg_proc row the
//   check's own snapshot sees with the pinned digest, plus that row's xmax. Under READ COMMITTED (the
//   default; autocommit too) the check's statement takes a new snapshot, so a body replaced while the
//   write waits for a row lock and put BACK before the check runs is not seen: the restored row has the
//   pinned digest and no xmax. The replaced body copies the stored secret into a column and waits (an
//   advisory lock the attacker holds) until the original is restored; the check passes, the RETURNING
//   row showed the secret raw and the write committed. No second race is needed: a SECURITY DEFINER
//   replacement that runs CREATE OR REPLACE of the original itself, in the writer's transaction, passed
//   the check too (it sees its own transaction's row). Fixed: the pin carries the version (xmin) of the
//   pg_proc row the decision's snapshot read (pg/relation-triggers.ts functionVersion; the relation's
//   fingerprint already holds p.xmin, so the snapshot is read again before a checked write after any
//   change), and the check fails when the row it sees is another version: any change after the decision,
//   even one put back, and one made in the writer's own transaction.
// R19b-2 (medium, fixed by issue 6; needs DDL on the server): the check only withholds results and rolls
//   back; what a replaced body does outside the transaction stays. A body that setval()s a sequence with the
//   stored value (sequences are not transactional) leaked it to whoever reads the sequence, though the write
//   was refused (55000) and rolled back. No lock closes it (CREATE OR REPLACE takes none a non-superuser can
//   meet); but the race needs a role that may replace the function, and the agent's only roles are
//   Gatehouse's upstream role and those it can become. Fixed: a write under a mask that runs a function that
//   role could replace (owner, member of the owner, superuser: pg/replaceable-functions.ts) is refused before
//   anything is sent (0A000, enforce/replaceable-functions.ts; statement.replaceable_functions in the policy
//   input), in every protocol, so the replaced body never runs. An administrator's change mid-write is still
//   caught by the pin check (defence in depth), and its out-of-transaction effects are not: an
//   administrator can read the data anyway. The fixtures' functions belong to postgres and Gatehouse runs
//   as a role that is not a superuser (test/support/upstream-role.ts), so the other tests here still race the pin check.
// R19b-3 (medium, fixed; needs DDL on the server, as R18b-3): a query string holding a COPY ... FROM
//   STDIN (before or after the write) got no check at all (its output cannot be held past the
//   CopyInResponse), so R18b-3 stayed open by adding a COPY to the string. Fixed: such a string with a
//   pinned write is refused (0A000, nothing run; enforce/function-pins.ts pinsBesideCopyIn).
//
// Held: a replaced body raising the stored value (message, detail, hint), also under GH001, the check's own
// SQLSTATE: withheld (the write's own error, told apart from the check's by its position).
// Read and judged without a test: the check cannot be faked by the client (its GH001 comes before the
// last statement's CommandComplete and counts as the statement's error); reserved lock-statement names
// are refused to SQL PREPARE/EXECUTE (names folded by the parser) and any DEALLOCATE makes Gatehouse
// parse its blocks again; R18a-4 stays open as documented; the extended protocol's missing check is
// closed where the agent could race it (issue 6, see R19b-2).
//
// Run: GATEHOUSE_TEST_DB=gh_redteam19b npx vitest run --project integration gateway/test/redteam-round19b.test.ts

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUNCTION_DIGEST_OF } from '../src/pg/relation-triggers.ts';
import { ensureClinicDatabase, startTestGateway, type TestGateway } from './support/harness.ts';
import { writerPolicyDir } from './support/writer-policies.ts';
import { closeWriterRound, tablesAfresh, triggerRaceSessions } from './support/writer-round.ts';
import { nonSuperuserUpstream, UPSTREAM_ROLE } from './support/upstream-role.ts';

const SECRET = '731-19-4242';
const SECRET_DIGITS = '731194242';
const LOCK_KEY = 191919;
/** A role owning a function, of which Gatehouse's upstream role is made a member (cluster-wide). */
const FN_OWNER = 'gatehouse_it_r19b_fn_owner';

const PINNED_PATH = 'SET search_path = public, pg_temp';
const fn = (body: string): string => `CREATE OR REPLACE FUNCTION clinical.r19b_keep_history() RETURNS trigger LANGUAGE plpgsql ${PINNED_PATH} AS $$${body}$$`;
const ORIGINAL = fn(`
BEGIN
  INSERT INTO r19b_history VALUES (OLD.id, OLD.secret);
  RETURN NEW;
END`);
/** R19b-1: copies the secret into note, then waits until the attacker has put the original back. */
const REPLACED_WAITING = fn(` BEGIN NEW.note := OLD.secret; PERFORM pg_catalog.pg_advisory_xact_lock(${LOCK_KEY}); RETURN NEW; END `);
/** R19b-1 without a second race: SECURITY DEFINER, it puts the original back itself, in the writer's transaction. */
const REPLACED_SELF_RESTORING = `CREATE OR REPLACE FUNCTION clinical.r19b_keep_history() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER ${PINNED_PATH} AS $outer$
BEGIN NEW.note := OLD.secret; EXECUTE $q$${ORIGINAL}$q$; RETURN NEW; END $outer$`;
/** R19b-2: writes the secret's digits into a sequence (not rolled back with the transaction). */
const REPLACED_SEQUENCE = fn(` BEGIN PERFORM pg_catalog.setval('public.r19b_leak', pg_catalog.translate(OLD.secret, '-', '')::bigint); RETURN NEW; END `);
/** Raises the stored value in every field of an error (the statement fails before the check runs). */
const REPLACED_RAISING = fn(` BEGIN RAISE EXCEPTION USING MESSAGE = 'r19b ' || OLD.secret, DETAIL = OLD.secret, HINT = OLD.secret, ERRCODE = 'P0001'; END `);
/** Raises the stored value as GH001, the check's own SQLSTATE, as the write's own error. */
const REPLACED_FAKE_CHECK = fn(` BEGIN RAISE EXCEPTION USING MESSAGE = 'r19b ' || OLD.secret, DETAIL = OLD.secret, ERRCODE = 'GH001'; END `);

const SETUP = `
CREATE TABLE public.r19b_history (id integer, secret text);
CREATE TABLE public.r19b_plain (id integer);
CREATE SEQUENCE public.r19b_leak;
CREATE TABLE clinical.r19b_kept (id integer PRIMARY KEY, note text, secret text);
INSERT INTO clinical.r19b_kept VALUES (1, 'n', '${SECRET}');
${ORIGINAL};
CREATE TRIGGER r19b_kept BEFORE UPDATE ON clinical.r19b_kept FOR EACH ROW EXECUTE FUNCTION clinical.r19b_keep_history();
`;
const CLEANUP = `
DROP TABLE IF EXISTS clinical.r19b_kept, public.r19b_history, public.r19b_plain CASCADE;
DROP SEQUENCE IF EXISTS public.r19b_leak;
DROP FUNCTION IF EXISTS clinical.r19b_keep_history();
`;

for (const engine of ['rego', 'cedar'] as const) {
  describe(`red-team round 19b: the pin check after a write firing reviewed triggers (${engine})`, () => {
    let t: TestGateway;
    let dir: string;
    let direct: pg.Client;
    let url: string;

    const waitFor = async (sql: string): Promise<void> => {
      for (let i = 0; i < 500; i++) {
        if ((await direct.query(sql)).rows.length > 0) return;
        await new Promise((r) => setTimeout(r, 20));
      }
    };

    beforeAll(async () => {
      url = await ensureClinicDatabase();
      direct = await tablesAfresh(url, CLEANUP, SETUP);
      const digestNow = async (): Promise<string> => ((await direct.query(FUNCTION_DIGEST_OF, ['clinical.r19b_keep_history'])).rows[0] as { digest: string }).digest;
      const digest = await digestNow();
      // R19b-2's definition: the same, owned by Gatehouse's upstream role (the owner is part of the digest), reviewed too.
      const upstreamUrl = await nonSuperuserUpstream(url);
      await direct.query(`ALTER FUNCTION clinical.r19b_keep_history() OWNER TO ${UPSTREAM_ROLE}`);
      const ownedDigest = await digestNow();
      await direct.query('ALTER FUNCTION clinical.r19b_keep_history() OWNER TO postgres');
      dir = writerPolicyDir(engine, {
        prefix: 'r19b',
        masked: ['clinical.r19b_kept'],
        plain: ['public.r19b_plain'],
        writable: ['clinical.r19b_kept', 'public.r19b_plain'],
        reviewed: [`clinical.r19b_keep_history@${digest}`, `clinical.r19b_keep_history@${ownedDigest}`],
        adminWrites: 'public.r19b_history',
      });
      // Gatehouse's own role is not a superuser and cannot become the fixtures' owner (postgres): the
      // replacements in raceWrite are an administrator's, which the pin check is about (issue 6).
      t = await startTestGateway({ engine, policiesDir: dir, upstreamUrl });
    });
    afterAll(() => closeWriterRound({ direct, cleanup: CLEANUP, gateway: t, dir }));

    /**
     * R18b-3's race: the write waits for a row lock held by `holder`, `replaced` goes in meanwhile, then the
     * row is freed. `whileFiring` runs once the replaced body has started (if it waits), before the result.
     */
    async function raceWrite(replaced: string, sql: string, whileFiring?: (ddl: pg.Client) => Promise<void>): Promise<{ code: string | null; rows: unknown[]; message?: string }> {
      const fresh = await t.client(await t.token(`r19b-writer-${engine}`, ['r19b-writers']));
      const { holder, ddl, connect, end } = triggerRaceSessions(url, fresh, ORIGINAL);
      try {
        await connect();
        await holder.query('BEGIN');
        await holder.query('SELECT 1 FROM clinical.r19b_kept WHERE id = 1 FOR UPDATE');
        const write = fresh.query(sql).then(
          (r) => ({ code: null, rows: r.rows as unknown[] }),
          (e: pg.DatabaseError) => ({ code: e.code ?? 'none', rows: [] as unknown[], message: e.message }),
        );
        await waitFor("SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND wait_event = 'transactionid' AND query LIKE '%r19b_kept SET note%'");
        await ddl.query(replaced);
        await holder.query('COMMIT');
        if (whileFiring !== undefined) await whileFiring(ddl);
        return await write;
      } finally {
        await end();
      }
    }

    it('the premise: the writer reads secret masked and the write with the reviewed trigger runs (the check passes)', async () => {
      const w = await t.client(await t.token(`r19b-writer-${engine}`, ['r19b-writers']));
      try {
        expect((await w.query('SELECT secret FROM clinical.r19b_kept')).rows).toEqual([{ secret: '***' }]);
        await w.query('BEGIN');
        expect((await w.query("UPDATE clinical.r19b_kept SET note = 'x' WHERE id = 1 RETURNING note")).rows).toEqual([{ note: 'x' }]);
        await w.query('ROLLBACK');
        // R18b-3 itself still caught: the body replaced during the wait and left there.
        const r = await raceWrite(REPLACED_WAITING.replace(/ PERFORM pg_catalog.pg_advisory_xact_lock\(\d+\);/, ''), "UPDATE clinical.r19b_kept SET note = 'z' WHERE id = 1 RETURNING note");
        expect(JSON.stringify(r.rows)).not.toContain(SECRET);
        expect(r.code).toBe('55000');
      } finally {
        await w.end().catch(() => undefined);
      }
    });

    // R19b-1: replaced during the wait, put back while the replaced body runs: READ COMMITTED's check sees the original.
    it('R19b-1: a trigger function replaced during the write and put back before the check does not return the secret', async () => {
      const gate = new pg.Client({ connectionString: url });
      await gate.connect();
      try {
        await gate.query('SELECT pg_catalog.pg_advisory_lock($1)', [LOCK_KEY]);
        const r = await raceWrite(REPLACED_WAITING, "UPDATE clinical.r19b_kept SET note = 'z' WHERE id = 1 RETURNING note", async (ddl) => {
          // The replaced body has copied the secret and waits for the advisory lock: restore, then let it go on.
          await waitFor("SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND wait_event = 'advisory'");
          await ddl.query(ORIGINAL);
          await gate.query('SELECT pg_catalog.pg_advisory_unlock($1)', [LOCK_KEY]);
        });
        const stored = (await direct.query('SELECT note FROM clinical.r19b_kept WHERE id = 1')).rows;
        expect(JSON.stringify([r.rows, stored]), `UPDATE: ${r.code ?? 'ran'} ${r.message ?? ''}`).not.toContain(SECRET);
        expect(r.code).toBe('55000');
      } finally {
        await gate.query('SELECT pg_catalog.pg_advisory_unlock_all()').catch(() => undefined);
        await gate.end().catch(() => undefined);
        await direct.query("UPDATE clinical.r19b_kept SET note = 'n' WHERE id = 1");
      }
    });

    it('R19b-1: a replaced body that puts the original back itself (in the write\'s transaction) does not return the secret', async () => {
      try {
        const r = await raceWrite(REPLACED_SELF_RESTORING, "UPDATE clinical.r19b_kept SET note = 'z' WHERE id = 1 RETURNING note");
        const stored = (await direct.query('SELECT note FROM clinical.r19b_kept WHERE id = 1')).rows;
        expect(JSON.stringify([r.rows, stored]), `UPDATE: ${r.code ?? 'ran'} ${r.message ?? ''}`).not.toContain(SECRET);
        expect(r.code).toBe('55000');
      } finally {
        await direct.query("UPDATE clinical.r19b_kept SET note = 'n' WHERE id = 1");
      }
    });

    // R19b-1's fix pins the pg_proc row version: a change that leaves the digest as it was (COST) is a new
    // version; the write after it must still run (the relation's fingerprint holds p.xmin, so the snapshot
    // is read again before the decision), and one in the writer's own transaction is caught too.
    it('R19b-1: after a change keeping the digest (ALTER FUNCTION ... COST) the next write runs and commits', async () => {
      const w = await t.client(await t.token(`r19b-writer-${engine}`, ['r19b-writers']));
      try {
        await direct.query('ALTER FUNCTION clinical.r19b_keep_history() COST 7');
        expect((await w.query("UPDATE clinical.r19b_kept SET note = 'c' WHERE id = 1 RETURNING note")).rows).toEqual([{ note: 'c' }]);
        expect((await direct.query('SELECT note FROM clinical.r19b_kept WHERE id = 1')).rows).toEqual([{ note: 'c' }]);
      } finally {
        await direct.query('ALTER FUNCTION clinical.r19b_keep_history() COST 100');
        await direct.query("UPDATE clinical.r19b_kept SET note = 'n' WHERE id = 1");
        await w.end().catch(() => undefined);
      }
    });

    // Held: a replaced body that raises the stored value (message, detail, hint; also under the check's own
    // SQLSTATE GH001) fails the write before the check: the error must not carry the value.
    for (const [what, replaced] of [['P0001', REPLACED_RAISING], ['GH001', REPLACED_FAKE_CHECK]] as const) {
      it(`held: a replaced body raising the stored value (${what}) shows no secret in the error`, async () => {
        const fresh = await t.client(await t.token(`r19b-writer-${engine}`, ['r19b-writers']));
        let error: unknown = null;
        const notices: unknown[] = [];
        fresh.on('notice', (n) => notices.push(n));
        try {
          error = await raceWrite(replaced, "UPDATE clinical.r19b_kept SET note = 'z' WHERE id = 1 RETURNING note");
          // The body ran and raised (under the check's own SQLSTATE too: the client's error, not a refusal).
          expect((error as { code: string | null }).code).toBe(what);
        } finally {
          await direct.query(ORIGINAL);
          await fresh.end().catch(() => undefined);
        }
        expect(JSON.stringify([error, notices])).not.toContain(SECRET);
        expect(JSON.stringify([error, notices])).not.toContain(SECRET_DIGITS);
      });
    }

    // R19b-3: a string holding COPY ... FROM STDIN got no check (its output cannot be held past the
    // CopyInResponse), so a pinned write beside a COPY ran as in R18b-3, unchecked. Fixed: refused (0A000).
    it('R19b-3: a pinned write in a string with COPY FROM STDIN is refused, nothing run (it could not be checked)', async () => {
      const w = await t.client(await t.token(`r19b-writer-${engine}`, ['r19b-writers']));
      try {
        // The premise: the COPY alone is allowed (node-pg has no stream to send: it fails the copy itself, 57014).
        const alone = await w.query('COPY public.r19b_plain FROM STDIN').then(() => null, (e: pg.DatabaseError) => e.code);
        expect(alone).not.toBe('42501');
        for (const sql of [
          "UPDATE clinical.r19b_kept SET note = 'q' WHERE id = 1 RETURNING note; COPY public.r19b_plain FROM STDIN",
          "COPY public.r19b_plain FROM STDIN; UPDATE clinical.r19b_kept SET note = 'q' WHERE id = 1 RETURNING note",
        ]) {
          const e = await w.query(sql).then(() => null, (x: pg.DatabaseError) => x);
          expect(e?.code, sql).toBe('0A000');
          expect(e?.message).toContain('COPY ... FROM STDIN');
        }
        expect((await direct.query('SELECT note FROM clinical.r19b_kept WHERE id = 1')).rows).toEqual([{ note: 'n' }]);
        // A COPY beside a write firing no pinned trigger is not concerned.
        expect(await w.query('INSERT INTO public.r19b_plain VALUES (1); COPY public.r19b_plain FROM STDIN').then(() => null, (x: pg.DatabaseError) => x.code)).not.toBe('0A000');
      } finally {
        await w.end().catch(() => undefined);
        await direct.query("UPDATE clinical.r19b_kept SET note = 'n' WHERE id = 1");
      }
    });

    // Issue 6's rule is one decision for every protocol: the simple Query, Parse/Bind/Execute and COPY FROM.
    it("a write under a mask firing a function Gatehouse's own role could replace is refused in every protocol, and runs once an administrator owns it", async () => {
      const w = await t.client(await t.token(`r19b-writer-${engine}`, ['r19b-writers']));
      try {
        await direct.query(`ALTER FUNCTION clinical.r19b_keep_history() OWNER TO ${UPSTREAM_ROLE}`);
        for (const q of [
          "UPDATE clinical.r19b_kept SET note = 'e' WHERE id = 1",
          { text: 'UPDATE clinical.r19b_kept SET note = $1 WHERE id = 1 RETURNING note', values: ['e'] },
          'COPY clinical.r19b_kept (id, note, secret) FROM STDIN',
        ]) {
          const e = await w.query(q).then(() => null, (x: pg.DatabaseError) => x);
          expect(e?.code, JSON.stringify(q)).toBe('0A000');
          expect(e?.message).toContain("Gatehouse's own database role could replace or alter");
          expect(e?.hint).toContain('Have an administrator own the function');
        }
        expect((await direct.query('SELECT note FROM clinical.r19b_kept WHERE id = 1')).rows).toEqual([{ note: 'n' }]);
        await direct.query('ALTER FUNCTION clinical.r19b_keep_history() OWNER TO postgres');
        expect((await w.query({ text: 'UPDATE clinical.r19b_kept SET note = $1 WHERE id = 1 RETURNING note', values: ['e'] })).rows).toEqual([{ note: 'e' }]);
        // A CHECK constraint's function runs with the write too (pg_depend): the same rule, here for a
        // function owned by a role Gatehouse's role is a member of (it can SET ROLE to it: pg_has_role MEMBER).
        await direct.query(`DO $$ BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = '${FN_OWNER}') THEN CREATE ROLE ${FN_OWNER} NOLOGIN; END IF;
          EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
          GRANT ${FN_OWNER} TO ${UPSTREAM_ROLE};
          CREATE FUNCTION clinical.r19b_ok(text) RETURNS boolean LANGUAGE sql AS 'SELECT true'; ALTER FUNCTION clinical.r19b_ok(text) OWNER TO ${FN_OWNER};
          ALTER TABLE clinical.r19b_kept ADD CONSTRAINT r19b_ok CHECK (clinical.r19b_ok(note))`);
        const e = await w.query("UPDATE clinical.r19b_kept SET note = 'f' WHERE id = 1").then(() => null, (x: pg.DatabaseError) => x);
        expect(e?.code).toBe('0A000');
        expect(e?.message).toContain('it runs clinical.r19b_ok');
      } finally {
        await direct.query('ALTER TABLE clinical.r19b_kept DROP CONSTRAINT IF EXISTS r19b_ok; DROP FUNCTION IF EXISTS clinical.r19b_ok(text)');
        await direct.query(`REVOKE ${FN_OWNER} FROM ${UPSTREAM_ROLE}`).catch(() => undefined);
        await direct.query('ALTER FUNCTION clinical.r19b_keep_history() OWNER TO postgres');
        await direct.query("UPDATE clinical.r19b_kept SET note = 'n' WHERE id = 1");
        await w.end().catch(() => undefined);
      }
    });

    // R19b-2: the check refuses the write and rolls it back, but a sequence is not rolled back. Fixed (issue 6):
    // the race needs a role that may replace the function, and the agent's only roles are Gatehouse's upstream
    // role and those it can become. A write under a mask firing a function that role could replace is refused
    // before anything is sent (0A000), so no replaced body runs. The attacker here is that role itself.
    it('R19b-2: a trigger function Gatehouse\'s own role could replace: the write is refused up front and leaves nothing of the secret behind (sequence)', async () => {
      const upstream = t.upstreamUrl;
      // As if the agent's role had made the function: it owns it, and may create in its schema (CREATE OR REPLACE needs both).
      await direct.query(`ALTER FUNCTION clinical.r19b_keep_history() OWNER TO ${UPSTREAM_ROLE}; GRANT CREATE ON SCHEMA clinical TO ${UPSTREAM_ROLE}`);
      const holder = new pg.Client({ connectionString: url });
      const attacker = new pg.Client({ connectionString: upstream });
      const fresh = await t.client(await t.token(`r19b-writer-${engine}`, ['r19b-writers']));
      const notices: unknown[] = [];
      fresh.on('notice', (n) => notices.push({ ...n, message: n.message }));
      try {
        await holder.connect();
        await attacker.connect();
        await holder.query('BEGIN');
        await holder.query('SELECT 1 FROM clinical.r19b_kept WHERE id = 1 FOR UPDATE');
        let settled = false;
        const write = fresh.query("UPDATE clinical.r19b_kept SET note = 'z' WHERE id = 1 RETURNING note").then(
          (r) => ({ code: null as string | null, rows: r.rows as unknown[], message: '' }),
          (e: pg.DatabaseError) => ({ code: e.code ?? 'none', rows: [] as unknown[], message: e.message, detail: e.detail, hint: e.hint }),
        ).finally(() => (settled = true));
        // Refused at once, or (without the rule) waiting on the server for the row: then the body is replaced.
        for (let i = 0; i < 500 && !settled; i++) {
          if ((await direct.query("SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%r19b_kept SET note%'")).rows.length > 0) break;
          await new Promise((r) => setTimeout(r, 20));
        }
        await attacker.query(REPLACED_SEQUENCE);
        await holder.query('COMMIT');
        const r = await write;
        const seq = (await direct.query('SELECT last_value::text AS v, is_called FROM public.r19b_leak')).rows;
        expect(JSON.stringify([r, notices, seq])).not.toContain(SECRET);
        expect(JSON.stringify([r, notices, seq])).not.toContain(SECRET_DIGITS);
        expect(seq).toEqual([{ v: '1', is_called: false }]);
        expect(r.code).toBe('0A000');
        expect(r.message).toContain('clinical.r19b_keep_history');
        expect(r.message).toContain("Gatehouse's own database role could replace or alter");
        expect((await direct.query('SELECT note FROM clinical.r19b_kept WHERE id = 1')).rows).toEqual([{ note: 'n' }]);
        // The fact is in the policy input, for policies to deny more.
        const records = await t.auditUntil((rs) => rs.some((x) => x.type === 'statement' && (x.input?.statement.replaceable_functions ?? []).length > 0));
        expect(records.flatMap((x) => (x.type === 'statement' ? (x.input?.statement.replaceable_functions ?? []) : []))).toContain('clinical.r19b_keep_history');
      } finally {
        await holder.query('ROLLBACK').catch(() => undefined);
        await direct.query(ORIGINAL);
        await direct.query(`ALTER FUNCTION clinical.r19b_keep_history() OWNER TO postgres; REVOKE CREATE ON SCHEMA clinical FROM ${UPSTREAM_ROLE}`);
        await direct.query("SELECT pg_catalog.setval('public.r19b_leak', 1, false)");
        await direct.query("UPDATE clinical.r19b_kept SET note = 'n' WHERE id = 1");
        await holder.end().catch(() => undefined);
        await attacker.end().catch(() => undefined);
        await fresh.end().catch(() => undefined);
      }
    });
  });
}
