// Red-team round 18b: session 18's masking changes (rules6: the catalog check for every write of an
// identity under a mask, reviewed trigger functions bound to their definition; maskcost6: last4 in C,
// gatehouse_mask 1.1), attacked through a real Gatehouse and the real PostgreSQL, both engines. A writer
// under a mask must get no stored secret back, by any route.
//
// Findings:
// R18b-1 (high, fixed): a reviewed trigger function, even pinned to its definition, runs with the
//   session's name resolution, which the writer controls: the session's temporary schema is searched
//   first for relations, and every role may create temporary tables (PUBLIC has TEMPORARY on a
//   database; policies may allow scratch tables, docs/policies.md). A reviewed history trigger that copies
//   the old row into `r18b_history` (unqualified, meant to be public.r18b_history, which the writer may
//   not read) writes the stored secret into the writer's own temporary table of that name, which the
//   writer then reads: the digest is unchanged, the write allowed, the secret back raw. SET search_path
//   to a schema the writer may create in does the same for functions and operators. Fixed: a review
//   counts only for a function whose definition sets search_path with pg_temp last (and no "$user"),
//   or a C or internal one (pg/relation-triggers.ts pathPinned); otherwise 0A000 naming the function.
//   Since R20c-3 (redteam-round20c-temp-type.test.ts), while Gatehouse's role may create temporary
//   objects, a masked write running such a body is refused up front unless every body that resolves names
//   when it runs sets its path ending in pg_temp: the test's role gets TEMPORARY for R18b-1 only.
// R18b-2 (high, fixed): where `gatehouse db setup` never ran, a role with CREATE on the database (no
//   superuser, no SELECT on the table) made schema gatehouse with gatehouse_mask_last4(text) and
//   gatehouse_mask_hash(text, text) returning their argument; the snapshot asked only whether they exist
//   and may be executed, so last4 columns came back whole and hash columns unhashed. Fixed: they count
//   only when they and their schema belong to gatehouse_mask_owner or a superuser
//   (pg/mask-function-query.ts).
// R18b-3 (medium, fixed for simple Queries; needs DDL on the server): the pinned definition is checked
//   when the write is decided, but nothing keeps the function from being replaced before the trigger fires
//   (CREATE OR REPLACE FUNCTION takes no lock the lock prefix meets). A write that waits for a row lock
//   held by another transaction, in a session that has not fired the trigger yet, runs the body put
//   there during the wait; the new body copies the stored secret into a column the writer reads
//   unmasked. (A RAISE of it is withheld: notices raised by routine code under a mask are.) Fixed: a
//   check appended to the Query, in the write's transaction, fails it (55000) when a trigger's pg_proc
//   row is not the one decided on, and the write's results are held until it passes (pg/pin-check.ts).
//   Not for the extended protocol (docs/data-path.md). Since issue 6 the race is closed up front where the
//   agent could run it, in every protocol: a write under a mask that runs a function Gatehouse's upstream
//   role could replace is refused before anything is sent (0A000, enforce/replaceable-functions.ts). The
//   pin check stays for an administrator's change mid-write (simple Query only).
// R18b-4 (medium, fixed): `gatehouse db setup` filled a schema gatehouse that such a role had made before
//   it (CREATE SCHEMA IF NOT EXISTS), whose owner may drop or replace the functions and key table setup
//   puts there (or leave a key table with a trigger of its own). Fixed: setup refuses it (42501).
//
// Held: ALTER FUNCTION ... SECURITY DEFINER / SET search_path / OWNER TO on a pinned function (another
// digest: refused). Read and judged without a test: the C last4 (gatehouse_mask.c) counts and cuts with
// the functions char_length and right() use, its ASCII fast path only where every byte is below 0x80 or
// the encoding is single-byte, text cannot hold NUL, so its output equals the SQL expression's (also
// mask-extension-last4.test.ts) and never more than four code points; char(n) and domains are cast to
// text first in both. The textual suppress_redundant_updates_trigger warning can be dodged by a policy
// that builds the name (advisory, for policy authors). Reviewed names join schema and function with a dot,
// so "a.b.c" names both a.(b.c) and (a.b).c. Functions a reviewed one calls are not bound (documented).
// The keyed hash's per-call-site midstate (fn_extra) is reused only for the same domain bytes and key
// load count, so another domain or a rotated key computes it anew; the hashes equal Node's HMAC
// (mask-extension.test.ts).
//
// Run: GATEHOUSE_TEST_DB=gh_redteam18b npx vitest run --project integration gateway/test/redteam-round18b.test.ts

import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setupMaskFunctions } from '../src/db/setup.ts';
import { FUNCTION_DIGEST_OF } from '../src/pg/relation-triggers.ts';
import { PG_ADMIN_URL, TEST_DB, ensureClinicDatabase, ensureDatabase, startTestGateway, type TestGateway } from './support/harness.ts';
import { writerPolicyDir } from './support/writer-policies.ts';
import { closeWriterRound, tablesAfresh, triggerRaceSessions } from './support/writer-round.ts';
import { nonSuperuserUpstream, UPSTREAM_ROLE } from './support/upstream-role.ts';

const SECRET = 'R18b-History-Secret-7713';

const BODY = `
BEGIN
  INSERT INTO r18b_history VALUES (OLD.id, OLD.secret);
  RETURN NEW;
END`;
/** As reviewed: its names resolved in public, pg_temp last (the rule a review needs since R18b-1). */
const PINNED_PATH = 'SET search_path = public, pg_temp';
const ORIGINAL = `CREATE OR REPLACE FUNCTION clinical.r18b_keep_history() RETURNS trigger LANGUAGE plpgsql ${PINNED_PATH} AS $$${BODY}$$`;
/** What an attacker with DDL on the server swaps in: the body copies the stored value into a column the writer reads unmasked. */
const REPLACED = `CREATE OR REPLACE FUNCTION clinical.r18b_keep_history() RETURNS trigger LANGUAGE plpgsql ${PINNED_PATH} AS $$ BEGIN NEW.note := OLD.secret; RETURN NEW; END $$`;

const SETUP = `
CREATE TABLE public.r18b_history (id integer, secret text);
CREATE TABLE clinical.r18b_kept (id integer PRIMARY KEY, note text, secret text);
INSERT INTO clinical.r18b_kept VALUES (1, 'n', '${SECRET}');
${ORIGINAL};
CREATE TRIGGER r18b_kept BEFORE UPDATE ON clinical.r18b_kept FOR EACH ROW EXECUTE FUNCTION clinical.r18b_keep_history();
CREATE TABLE clinical.r18b_when (id integer PRIMARY KEY, note text, secret text);
INSERT INTO clinical.r18b_when VALUES (1, 'n', '${SECRET}');
CREATE FUNCTION clinical.r18b_when_ok(integer) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN RETURN $1 > 0; END $$;
CREATE TRIGGER r18b_when BEFORE UPDATE ON clinical.r18b_when FOR EACH ROW WHEN (clinical.r18b_when_ok(NEW.id))
  EXECUTE FUNCTION clinical.r18b_keep_history();
`;
const CLEANUP = `
DROP TABLE IF EXISTS clinical.r18b_kept, clinical.r18b_when, public.r18b_history CASCADE;
DROP FUNCTION IF EXISTS clinical.r18b_keep_history(), clinical.r18b_when_ok(integer);
`;

const MASKED = ['clinical.r18b_kept', 'clinical.r18b_when'];
/** Scratch tables: the writer's own temporary tables (docs/policies.md: `pg_temp.x`); the second is dropped to have the catalog read again. */
const SCRATCH = ['pg_temp.r18b_history', 'pg_temp.r18b_other'];

/** The writers may create temporary tables (a DDL statement writing only `pg_temp.*`), in each engine. */
const SCRATCH_DDL = {
  rego: `package gatehouse

allow contains {"id": "r18b-scratch", "reason": "r18b writers may create temporary tables", "on": "execute"} if {
	member("r18b-writers")
	input.statement.kind == "ddl"
	count(input.statement.tables_written) > 0
	every t in input.statement.tables_written { startswith(t, "pg_temp.") }
}
`,
  cedar: `@id("r18b-scratch")
@reason("r18b writers may create temporary tables")
permit (principal in Gatehouse::Group::"r18b-writers", action == Gatehouse::Action::"execute", resource)
when { context.kind == "ddl" && [${SCRATCH.map((x) => JSON.stringify(x)).join(', ')}].containsAll(context.tables_written) && !context.tables_written.isEmpty() };
`,
} as const;

for (const engine of ['rego', 'cedar'] as const) {
  describe(`red-team round 18b: reviewed trigger functions and the session's name resolution (${engine})`, () => {
    let t: TestGateway;
    let dir: string;
    let direct: pg.Client;
    let writer: pg.Client;
    let url: string;
    let upstreamUrl: string;

    /** Rows of `sql` over `client`, [] when it fails: the open findings' steps throw nothing, so only their last check can fail. */
    const rowsOf = (client: pg.Client, sql: string): Promise<unknown[]> => client.query(sql).then((r) => r.rows as unknown[], () => []);
    /** A statement's error code, or null when it ran. */
    const codeOf = async (sql: string, client: pg.Client = writer): Promise<string | null> => {
      try {
        await client.query(sql);
        return null;
      } catch (e) {
        return (e as pg.DatabaseError).code ?? 'none';
      }
    };

    beforeAll(async () => {
      url = await ensureClinicDatabase();
      direct = await tablesAfresh(url, CLEANUP, SETUP);
      const digestNow = async (): Promise<string> => ((await direct.query(FUNCTION_DIGEST_OF, ['clinical.r18b_keep_history'])).rows[0] as { digest: string }).digest;
      const digest = await digestNow();
      // The extended variant's definition: the same, owned by Gatehouse's upstream role (the owner is in the digest), reviewed too.
      upstreamUrl = await nonSuperuserUpstream(url);
      await direct.query(`ALTER FUNCTION clinical.r18b_keep_history() OWNER TO ${UPSTREAM_ROLE}`);
      const ownedDigest = await digestNow();
      await direct.query('ALTER FUNCTION clinical.r18b_keep_history() OWNER TO postgres');
      // R18b-1's definition: the same body without its own search_path, reviewed and pinned too.
      await direct.query('ALTER FUNCTION clinical.r18b_keep_history() RESET search_path');
      const unpinnedDigest = await digestNow();
      await direct.query(`ALTER FUNCTION clinical.r18b_keep_history() ${PINNED_PATH}`);
      dir = writerPolicyDir(engine, {
        prefix: 'r18b',
        masked: MASKED,
        plain: SCRATCH,
        writable: [...MASKED, ...SCRATCH],
        // Reviewed and pinned: it writes the old row to a history table only admins read.
        // The WHEN condition's function, by name (a pin never vouches for one: docs/policies.md).
        reviewed: [`clinical.r18b_keep_history@${digest}`, `clinical.r18b_keep_history@${unpinnedDigest}`, `clinical.r18b_keep_history@${ownedDigest}`, 'clinical.r18b_when_ok'],
        adminWrites: 'public.r18b_history',
      });
      writeFileSync(join(dir, engine === 'rego' ? 'r18b_scratch.rego' : 'r18b_scratch.cedar'), SCRATCH_DDL[engine]);
      // Gatehouse's own role is not a superuser and cannot become the fixtures' owner (postgres): the
      // replacements below are an administrator's (the pin check's subject); the agent's own are refused up front (issue 6).
      t = await startTestGateway({ engine, policiesDir: dir, upstreamUrl });
      writer = await t.client(await t.token(`r18b-writer-${engine}`, ['r18b-writers']));
    });
    afterAll(() => closeWriterRound({ writer, direct, cleanup: CLEANUP, gateway: t, dir }));

    it('the premise: the writer reads secret masked, may not read the history, and the reviewed trigger runs', async () => {
      expect((await writer.query('SELECT secret FROM clinical.r18b_kept')).rows).toEqual([{ secret: '***' }]);
      expect(await codeOf('SELECT secret FROM public.r18b_history')).toBe('42501');
      await writer.query('BEGIN');
      try {
        expect((await writer.query("UPDATE clinical.r18b_kept SET note = 'x' WHERE id = 1")).rowCount).toBe(1);
      } finally {
        await writer.query('ROLLBACK');
      }
      // The scratch-table policy would let the writer make the temporary table R18b-1 uses, but Gatehouse's
      // role may not create temporary objects here (support/upstream-role.ts; R20c-3): R18b-1 grants it.
      expect(await codeOf('CREATE TEMP TABLE r18b_history (id integer, secret text)')).toBe('42501');
    });

    // R18b-1: the temporary table shadows public.r18b_history inside the reviewed function. Fixed: a
    // review counts only for a function whose definition sets search_path with pg_temp last. Since R20c-3
    // a role that may create temporary objects gets such writes refused up front anyway, so Gatehouse's
    // role gets TEMPORARY for this test only.
    it('R18b-1: a temporary table named like the reviewed trigger\'s target does not receive the stored secret', async () => {
      await direct.query(`GRANT TEMPORARY ON DATABASE ${TEST_DB} TO ${UPSTREAM_ROLE}`);
      try {
        // DDL through Gatehouse: the catalog is read again, now with TEMPORARY.
        expect(await codeOf('CREATE TEMP TABLE r18b_history (id integer, secret text)')).toBeNull();
        expect(await codeOf('CREATE TEMP TABLE r18b_other (id integer)')).toBeNull();
        // The definition as first reviewed: no search_path of its own (reviewed and pinned, see beforeAll).
        await direct.query('ALTER FUNCTION clinical.r18b_keep_history() RESET search_path');
        try {
          await codeOf('BEGIN');
          const code = await codeOf("UPDATE clinical.r18b_kept SET note = 'y' WHERE id = 1");
          const rows = await rowsOf(writer, 'SELECT secret FROM pg_temp.r18b_history');
          await codeOf('ROLLBACK');
          // Without the rule the UPDATE runs and the trigger copies the stored row into the temporary table.
          expect(JSON.stringify(rows)).not.toContain(SECRET);
          expect(code).toBe('0A000');
          const e = await writer.query("UPDATE clinical.r18b_kept SET note = 'y' WHERE id = 1").then(() => null, (x: pg.DatabaseError) => x);
          expect(e?.message).toContain('clinical.r18b_keep_history does not set its own search_path ending in pg_temp');
          expect(e?.hint).toContain('ALTER FUNCTION clinical.r18b_keep_history(...) SET search_path = <its schemas>, pg_temp');
        } finally {
          await direct.query(`ALTER FUNCTION clinical.r18b_keep_history() ${PINNED_PATH}`);
        }
        // With its own path, while the role may create temporary objects: refused all the same, since a
        // function it may reach by name (here clinical.r18b_when_ok) lets pg_temp go first (R20c-3).
        const e = await writer.query("UPDATE clinical.r18b_kept SET note = 'y' WHERE id = 1").then(() => null, (x: pg.DatabaseError) => x);
        expect(e?.code).toBe('0A000');
        expect(e?.message).toContain(`can create temporary objects in database ${TEST_DB}`);
        expect(await rowsOf(writer, 'SELECT secret FROM pg_temp.r18b_history')).toEqual([]);
      } finally {
        await direct.query(`REVOKE TEMPORARY ON DATABASE ${TEST_DB} FROM ${UPSTREAM_ROLE}`);
      }
      // Without TEMPORARY (DDL through Gatehouse has the catalog read again), with its own path (the fix
      // the refusal names, pinned in beforeAll), the write runs, and the old row goes to
      // public.r18b_history, not to the writer's table (made before the REVOKE, so still there).
      try {
        expect(await codeOf('DROP TABLE pg_temp.r18b_other')).toBeNull();
        await codeOf('BEGIN');
        expect(await codeOf("UPDATE clinical.r18b_kept SET note = 'y' WHERE id = 1")).toBeNull();
        expect(await rowsOf(writer, 'SELECT secret FROM pg_temp.r18b_history')).toEqual([]);
        await codeOf('ROLLBACK');
      } finally {
        await writer.query('ROLLBACK').catch(() => undefined);
        await writer.query('DROP TABLE IF EXISTS pg_temp.r18b_history, pg_temp.r18b_other').catch(() => undefined);
      }
    });

    it("R18b-1: the same rule holds for a reviewed function a trigger's WHEN condition calls", async () => {
      await writer.query('BEGIN');
      try {
        const e = await writer.query("UPDATE clinical.r18b_when SET note = 'w' WHERE id = 1").then(() => null, (x: pg.DatabaseError) => x);
        expect(e?.code).toBe('0A000');
        expect(e?.message).toContain('clinical.r18b_when_ok does not set its own search_path ending in pg_temp');
      } finally {
        await writer.query('ROLLBACK');
      }
      await direct.query('ALTER FUNCTION clinical.r18b_when_ok(integer) SET search_path = clinical, pg_temp');
      try {
        await writer.query('BEGIN');
        expect(await codeOf("UPDATE clinical.r18b_when SET note = 'w' WHERE id = 1")).toBeNull();
      } finally {
        await writer.query('ROLLBACK');
        await direct.query('ALTER FUNCTION clinical.r18b_when_ok(integer) RESET search_path');
      }
    });

    it('held: ALTER FUNCTION on the server (SECURITY DEFINER, SET search_path, OWNER) is another definition than the pinned one: refused', async () => {
      for (const [change, undo] of [
        ['SECURITY DEFINER', 'SECURITY INVOKER'],
        ['SET search_path = public, clinical', PINNED_PATH],
        ['OWNER TO pg_database_owner', 'OWNER TO postgres'],
      ] as const) {
        await direct.query(`ALTER FUNCTION clinical.r18b_keep_history() ${change}`);
        try {
          await writer.query('BEGIN');
          const code = await codeOf("UPDATE clinical.r18b_kept SET note = 'v' WHERE id = 1");
          await writer.query('ROLLBACK');
          expect.soft(code, change).toBe('0A000');
        } finally {
          await direct.query(`ALTER FUNCTION clinical.r18b_keep_history() ${undo}`);
        }
      }
    });

    // R18b-3: the definition is checked when the write is decided; PostgreSQL looks the function up
    // when the trigger fires. A write that waits for a row lock fires whatever body is there by then.
    // Fixed: a check in the write's transaction, after it, fails it (55000) and withholds what it returned
    // (pg/pin-check.ts). Three ways to read the replaced body's work: a later SELECT in the block (READ
    // COMMITTED), RETURNING under REPEATABLE READ (the transaction's snapshot still shows the old pg_proc
    // row: the check reads its xmax), and RETURNING in autocommit (the write must not commit either).
    for (const variant of ['read committed, a later SELECT', 'repeatable read, RETURNING', 'autocommit, RETURNING'] as const) {
      it(`R18b-3: a pinned trigger function replaced while the write waits for a row lock does not run unreviewed (${variant})`, async () => {
        // A session that has not run the trigger yet (each client has its own upstream backend): its backend
        // looks the function up when it first fires, after the wait.
        const fresh = await t.client(await t.token(`r18b-writer-${engine}`, ['r18b-writers']));
        const { holder, ddl, connect, end } = triggerRaceSessions(url, fresh, ORIGINAL);
        try {
          await connect();
          await rowsOf(holder, 'BEGIN');
          await rowsOf(holder, 'SELECT 1 FROM clinical.r18b_kept WHERE id = 1 FOR UPDATE');
          if (variant === 'read committed, a later SELECT') await codeOf('BEGIN', fresh);
          if (variant === 'repeatable read, RETURNING') await codeOf('BEGIN ISOLATION LEVEL REPEATABLE READ', fresh);
          const returning = variant === 'read committed, a later SELECT' ? '' : ' RETURNING note';
          const update = fresh.query(`UPDATE clinical.r18b_kept SET note = 'z' WHERE id = 1${returning}`).then(
            (r) => ({ code: null, rows: r.rows as unknown[] }),
            (e: pg.DatabaseError) => ({ code: e.code ?? 'none', rows: [] as unknown[], message: e.message }),
          );
          // Decided, checked and sent: it now waits on the server for the row.
          for (let i = 0; i < 500; i++) {
            if ((await rowsOf(ddl, "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%r18b_kept SET note%'")).length === 1) break;
            await new Promise((r) => setTimeout(r, 20));
          }
          await rowsOf(ddl, REPLACED);
          await rowsOf(holder, 'COMMIT');
          const done = await update;
          const later = variant === 'read committed, a later SELECT' ? await rowsOf(fresh, 'SELECT note FROM clinical.r18b_kept WHERE id = 1') : [];
          await codeOf('ROLLBACK', fresh);
          // Without the check the UPDATE runs once the row is free and fires the replaced body, which copies
          // the stored secret into note: returned, read back, or committed.
          expect(JSON.stringify([done.rows, later]), `UPDATE: ${done.code ?? 'ran'}`).not.toContain(SECRET);
          expect(done.code).toBe('55000');
          expect((done as { message?: string }).message).toContain('clinical.r18b_keep_history) was replaced or altered on the server while the write ran');
          // Nothing committed: the stored row is as before.
          expect((await direct.query('SELECT note FROM clinical.r18b_kept WHERE id = 1')).rows).toEqual([{ note: 'n' }]);
        } finally {
          await end();
        }
      });
    }

    // R18b-3 in the extended protocol: no check after an Execute. Fixed (issue 6) where the agent could do
    // it: the race needs a role that may replace the function, and the agent's only roles are Gatehouse's
    // upstream role and those it can become; a write under a mask firing a function that role could
    // replace is refused at the decision (0A000), in every protocol, before anything is sent. The attacker
    // here is that role itself (it owns the function, and may create in its schema).
    it('R18b-3, extended protocol: Parse/Bind/Execute of a write whose trigger function Gatehouse\'s own role could replace is refused, nothing run', async () => {
      await direct.query(`ALTER FUNCTION clinical.r18b_keep_history() OWNER TO ${UPSTREAM_ROLE}; GRANT CREATE ON SCHEMA clinical TO ${UPSTREAM_ROLE}`);
      const holder = new pg.Client({ connectionString: url });
      const attacker = new pg.Client({ connectionString: upstreamUrl });
      const fresh = await t.client(await t.token(`r18b-writer-${engine}`, ['r18b-writers']));
      try {
        await holder.connect();
        await attacker.connect();
        await holder.query('BEGIN');
        await holder.query('SELECT 1 FROM clinical.r18b_kept WHERE id = 1 FOR UPDATE');
        let settled = false;
        // node-postgres sends a query with values as Parse, Bind, Describe, Execute, Sync.
        const update = fresh.query({ text: 'UPDATE clinical.r18b_kept SET note = $1 WHERE id = $2 RETURNING note', values: ['z', 1] }).then(
          (r) => ({ code: null as string | null, rows: r.rows as unknown[], message: '' }),
          (e: pg.DatabaseError) => ({ code: e.code ?? 'none', rows: [] as unknown[], message: e.message }),
        ).finally(() => (settled = true));
        // Refused at once, or (without the rule) waiting on the server for the row: then the body is replaced.
        for (let i = 0; i < 500 && !settled; i++) {
          if ((await direct.query("SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%r18b_kept SET note%'")).rows.length > 0) break;
          await new Promise((r) => setTimeout(r, 20));
        }
        await attacker.query(REPLACED);
        await holder.query('COMMIT');
        const done = await update;
        expect(JSON.stringify(done), `UPDATE: ${done.code ?? 'ran'}`).not.toContain(SECRET);
        expect(done.code).toBe('0A000');
        expect(done.message).toContain('clinical.r18b_keep_history');
        expect(done.message).toContain("Gatehouse's own database role could replace or alter");
        expect((await direct.query('SELECT note FROM clinical.r18b_kept WHERE id = 1')).rows).toEqual([{ note: 'n' }]);
      } finally {
        await holder.query('ROLLBACK').catch(() => undefined);
        await direct.query(ORIGINAL);
        await direct.query(`ALTER FUNCTION clinical.r18b_keep_history() OWNER TO postgres; REVOKE CREATE ON SCHEMA clinical FROM ${UPSTREAM_ROLE}`);
        await direct.query("UPDATE clinical.r18b_kept SET note = 'n' WHERE id = 1");
        await holder.end().catch(() => undefined);
        await attacker.end().catch(() => undefined);
        await fresh.end().catch(() => undefined);
      }
    });

    it('R18b-3: a write firing the pinned function unchanged runs, returns its rows and commits (the check passes)', async () => {
      try {
        expect((await writer.query("UPDATE clinical.r18b_kept SET note = 'ok' WHERE id = 1 RETURNING id, note")).rows).toEqual([{ id: 1, note: 'ok' }]);
        expect((await direct.query('SELECT note FROM clinical.r18b_kept WHERE id = 1')).rows).toEqual([{ note: 'ok' }]);
        // A string with transaction control after such a write could commit before the check: refused, nothing run.
        expect(await codeOf("UPDATE clinical.r18b_kept SET note = 'no' WHERE id = 1; COMMIT")).toBe('0A000');
        expect((await direct.query('SELECT note FROM clinical.r18b_kept WHERE id = 1')).rows).toEqual([{ note: 'ok' }]);
      } finally {
        await direct.query("UPDATE clinical.r18b_kept SET note = 'n' WHERE id = 1");
        await direct.query('TRUNCATE public.r18b_history');
      }
    });
  });
}

// R18b-2 (see the header): a database where `gatehouse db setup` never ran (no keyed strategy is used there) has no schema
// gatehouse; a role that may create schemas in it (CREATE on the database: an application's migration
// role, not a superuser) makes one with its own gatehouse_mask_last4(text), and Gatehouse's snapshot,
// which asked only whether the function exists and may be executed, called it for every last4 column.
const CARD = '4111-1111-1111-4242';
const MAIL = 'r18b.hidden@example.org';
const NOKEY_DB = `${TEST_DB}_r18b_nokey`;
const CREATOR = `${TEST_DB}_r18b_creator`;
const CARD_POLICIES = {
  rego: `package gatehouse

mask contains {"id": "r18b-cards", "reason": "r18b readers see cards' last four", "on": "read", "table": "clinical.r18b_cards", "column": "card", "strategy": "last4"} if {
	member("r18b-readers")
	"clinical.r18b_cards" in input.statement.tables_read
}

mask contains {"id": "r18b-mails", "reason": "r18b readers see mails hashed", "on": "read", "table": "clinical.r18b_mails", "column": "email", "strategy": "hash"} if {
	member("r18b-readers")
	"clinical.r18b_mails" in input.statement.tables_read
}
`,
  cedar: `@id("r18b-cards")
@reason("r18b readers see cards' last four")
@mask("card:last4")
permit (principal in Gatehouse::Group::"r18b-readers", action == Gatehouse::Action::"read", resource == Gatehouse::Table::"clinical.r18b_cards");

@id("r18b-mails")
@reason("r18b readers see mails hashed")
@mask("email:hash")
permit (principal in Gatehouse::Group::"r18b-readers", action == Gatehouse::Action::"read", resource == Gatehouse::Table::"clinical.r18b_mails");
`,
} as const;

for (const engine of ['rego', 'cedar'] as const) {
  describe(`red-team round 18b: whose gatehouse_mask_last4 the rewrite calls (${engine})`, () => {
    let t: TestGateway;
    let dir: string;
    let reader: pg.Client;
    let url: string;

    beforeAll(async () => {
      url = await ensureDatabase(NOKEY_DB);
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      try {
        await admin.query(`DROP SCHEMA IF EXISTS gatehouse CASCADE; DROP SCHEMA IF EXISTS clinical CASCADE;
          DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${CREATOR}') THEN CREATE ROLE ${CREATOR} LOGIN; END IF; END $$;
          GRANT CREATE ON DATABASE ${NOKEY_DB} TO ${CREATOR};
          CREATE SCHEMA clinical;
          CREATE TABLE clinical.r18b_cards (id integer PRIMARY KEY, card text);
          INSERT INTO clinical.r18b_cards VALUES (1, '${CARD}');
          CREATE TABLE clinical.r18b_mails (id integer PRIMARY KEY, email text);
          INSERT INTO clinical.r18b_mails VALUES (1, '${MAIL}');`);
      } finally {
        await admin.end();
      }
      // The migration role, without any privilege on the table: its own schema and function.
      const creator = new pg.Client({ connectionString: url.replace('postgres@', `${CREATOR}@`) });
      await creator.connect();
      try {
        await creator.query(`CREATE SCHEMA gatehouse;
          CREATE FUNCTION gatehouse.gatehouse_mask_last4(v text) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT v';
          CREATE FUNCTION gatehouse.gatehouse_mask_hash(d text, v text) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT v';`);
        expect(await creator.query('SELECT card FROM clinical.r18b_cards').catch((e: pg.DatabaseError) => e.code)).toBe('42501');
      } finally {
        await creator.end();
      }
      dir = writerPolicyDir(engine, { prefix: 'r18b', masked: ['clinical.r18b_none'], plain: ['clinical.r18b_none'], writable: ['clinical.r18b_none'], reviewed: ['clinical.r18b_none_fn'], adminWrites: 'clinical.r18b_none' });
      writeFileSync(join(dir, engine === 'rego' ? 'r18b_cards.rego' : 'r18b_cards.cedar'), CARD_POLICIES[engine]);
      t = await startTestGateway({ engine, policiesDir: dir, upstreamUrl: url });
      reader = await t.client(await t.token(`r18b-reader-${engine}`, ['r18b-readers']));
    });
    afterAll(async () => {
      await reader?.end().catch(() => undefined);
      await t?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
      const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${NOKEY_DB} WITH (FORCE)`).catch(() => undefined);
      await admin.query(`DROP ROLE IF EXISTS ${CREATOR}`).catch(() => undefined);
      await admin.end();
    });

    it('R18b-2: a last4 column is masked although a non-superuser made a gatehouse.gatehouse_mask_last4 of its own', async () => {
      const rows = (await reader.query('SELECT card FROM clinical.r18b_cards')).rows;
      expect(JSON.stringify(rows)).not.toContain(CARD);
      expect(rows).toEqual([{ card: '***************4242' }]);
    });

    it('R18b-2: a hash column is not handed to a gatehouse.gatehouse_mask_hash a non-superuser made (refused as not set up)', async () => {
      const got = await reader.query('SELECT email FROM clinical.r18b_mails').then(
        (r) => ({ code: null, rows: r.rows }),
        (e: pg.DatabaseError) => ({ code: e.code ?? 'none', rows: [] }),
      );
      expect(JSON.stringify(got)).not.toContain(MAIL);
      expect(got.code).not.toBeNull();
    });

    // R18b-4: `db setup` then kept the creator's schema (CREATE SCHEMA IF NOT EXISTS), whose owner may drop
    // or replace what setup puts in it.
    it('R18b-4: db setup refuses a schema gatehouse another role made, and leaves it as it was', async () => {
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      try {
        const err = await setupMaskFunctions(admin, { grantTo: 'postgres' }).then(() => null, (e: pg.DatabaseError) => e);
        expect(err?.code).toBe('42501');
        expect(err?.message).toContain(`belongs to ${CREATOR}`);
        expect((await admin.query("SELECT count(*)::int AS n FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'gatehouse'")).rows).toEqual([{ n: 0 }]);
      } finally {
        await admin.end();
      }
    });
  });
}
