// Red-team round 17a: session 17's trigger review (enforce/trigger-review.ts, R10-6) and fresh-catalog
// check (enforce/fresh-catalog.ts, pg/relation-structure.ts, R10-10), attacked through trigger functions
// the review counts as harmless because they are built in or written in C, and through catalog changes
// made directly on the server. Through a real Gatehouse to the real PostgreSQL, both engines: a writer
// under a mask must get the same answer for a stored value and a guess, and no seeded secret back.
//
// Findings (fixed in this round, kept as regression tests):
// R17a-1 (high): `suppress_redundant_updates_trigger()`, built in (pg_catalog) and so passed by the review,
//   turns an UPDATE that assigns a masked column into an oracle on its stored value: the row is skipped
//   (UPDATE 0) exactly when the guess equals what is stored, and written (UPDATE 1) otherwise. PostgreSQL's
//   documentation recommends the trigger, so a table with masked columns may well have it. Fixed: the
//   review counts it as a function nobody vouches for unless the policy lists it.
// R17a-2 (high): a trigger function written in C outside the system schemas was passed as harmless ("only
//   a superuser can create those"), but contrib ships such functions that read other tables or send row
//   values: refint's `check_primary_key(...)` looks the written value up in any table and fails when it is
//   missing (an existence oracle on a masked column, e.g. patients.ssn, that no foreign key shows), and
//   tcn's `triggered_change_notification()` (a trusted extension: any role with CREATE on the database may
//   install it) NOTIFYs the row's primary key values to every listener. Fixed: for triggers, only
//   functions in pg_catalog count as built in; others need the policy's review.
// R17a-4 (high, older than session 17): a rule's actions run on the server on the stored rows raw, and a
//   SELECT in one returns its rows to the client: `CREATE RULE ... ON UPDATE TO t DO ALSO SELECT secret
//   FROM t WHERE id = NEW.id` gave a writer under a mask the stored secret. Rules reaching other masked
//   tables were refused (R10-7), but the snapshot's rule reads leave a table's own out. Fixed: the
//   snapshot says which relations have rules of their own (RelationInfo.rules), and a write under a mask
//   to such a table with masked columns is refused (42501); a rule created there later on the server is
//   found by the fingerprint check.
//
// R17a-3 (medium; needs a rule created directly on the server, and a window until the snapshot is read
//   again): the same rule on a table the writer reads unmasked (`DO ALSO SELECT ssn FROM
//   clinical.patients`), created after the snapshot, was not seen: the fingerprint check ran only for
//   writes that meet masked columns, so the INSERT ran and the SSN came back raw (a trigger created there
//   likewise ran unreviewed). Fixed (issue 6): every write of an identity under a mask (the identity
//   horizon, enforce/identity-horizon.ts, cached per identity) is checked, one catalog query per write.
//
// R17a-5 (medium): a write held for approval was checked against the server's constraints before the
//   wait only; a unique index made during the wait made the approved UPDATE an oracle on a masked column
//   (23505 vs UPDATE 1). Fixed: checked again when released, refused (55000) when they changed.
//
// Tried and held (both engines): a trigger created directly on the server on a masked table after the
// snapshot, then swapped for another function under the same name (CREATE OR REPLACE TRIGGER: the
// fingerprint sees the row's xmin); a unique index made directly on a partition of a masked parent (the
// parent's fingerprint holds its partitions'); a trigger enabled directly on the server (ALTER TABLE ...
// ENABLE TRIGGER, tgenabled in the fingerprint); the decision cache across two identities on the same
// write (the horizon probe's key is the statement's, identity included); TRUNCATE and COPY FROM firing an
// unreviewed trigger (refused); a write to an unmasked table, or a view over one, whose rule (in the snapshot)
// SELECTs the masked patients (refused). Read and judged safe without a test: the decision cache's approximate LRU and
// hand-written keys for null/false/[] (same strings as JSON.stringify), the RowDescription reuse (per
// session, compared by bytes, frozen), the prefixed Query bytes (the no-prefix path already forwarded the
// client's bytes; the prefix is UTF-8, so a non-ASCII table name under another client_encoding makes the
// LOCK fail: refused, not run), the write probe's early return (touchedTables is empty for those statements
// anyway). Not attacked: pipelines (lock17 is changing them in this session).
//
// Run: GATEHOUSE_TEST_DB=gh_redteam17a npx vitest run --project integration gateway/test/redteam-round17a.test.ts

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineKind } from '../src/policy/types.ts';
import { ensureClinicDatabase, startTestGateway, type TestGateway } from './support/harness.ts';
import { nonSuperuserUpstream } from './support/upstream-role.ts';
import { writerPolicyDir, type WriterPolicies } from './support/writer-policies.ts';
import { closeWriterRound, tablesAfresh } from './support/writer-round.ts';
import { api, pendingRequest } from './support/approvals.ts';

const S = {
  suppressed: 'R17a-Suppressed-Secret-4471',
  notified: 'R17a-Notified-Secret-8350',
  late: 'R17a-Late-Secret-2093',
  parted: 'R17a-Parted-Secret-6618',
  echoed: 'R17a-Echoed-Secret-5527',
} as const;

/** Tables whose column `secret` the writers read redacted. */
const MASKED = ['r17a_echoed', 'r17a_suppressed', 'r17a_notified', 'r17a_late', 'r17a_parted', 'r17a_parted_1'].map((t) => `clinical.${t}`);
/** Tables the writers read raw. */
const PLAIN = ['r17a_refs', 'r17a_plain', 'r17a_logged', 'r17a_relay', 'r17a_relay_v'].map((t) => `clinical.${t}`);

/** Made before the gateway starts, so that the first relation snapshot holds them. */
const SETUP = `
CREATE SCHEMA r17a_ext;
CREATE EXTENSION refint SCHEMA r17a_ext;
CREATE EXTENSION tcn SCHEMA r17a_ext;

CREATE TABLE clinical.r17a_suppressed (id integer PRIMARY KEY, note text, secret text);
INSERT INTO clinical.r17a_suppressed VALUES (1, 'n', '${S.suppressed}');
CREATE TRIGGER r17a_suppressed BEFORE UPDATE ON clinical.r17a_suppressed FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger();

CREATE TABLE clinical.r17a_refs (id integer, patient_ssn text);
CREATE TRIGGER r17a_refs BEFORE INSERT OR UPDATE ON clinical.r17a_refs FOR EACH ROW
  EXECUTE FUNCTION r17a_ext.check_primary_key('patient_ssn', 'clinical.patients', 'ssn');

CREATE TABLE clinical.r17a_notified (secret text PRIMARY KEY, note text);
INSERT INTO clinical.r17a_notified VALUES ('${S.notified}', 'n');
CREATE TRIGGER r17a_notified AFTER UPDATE ON clinical.r17a_notified FOR EACH ROW EXECUTE FUNCTION r17a_ext.triggered_change_notification('r17a_channel');

CREATE TABLE clinical.r17a_late (id integer PRIMARY KEY, note text, secret text);
INSERT INTO clinical.r17a_late VALUES (1, 'n', '${S.late}');
CREATE FUNCTION clinical.r17a_quote() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE NOTICE 'row %', NEW.secret;
  RETURN NEW;
END $$;
CREATE FUNCTION clinical.r17a_stamp() RETURNS trigger LANGUAGE plpgsql SET search_path = clinical, pg_temp AS $$
BEGIN
  NEW.note := coalesce(NEW.note, 'stamped');
  RETURN NEW;
END $$;
CREATE TRIGGER r17a_late_stamp BEFORE UPDATE ON clinical.r17a_late FOR EACH ROW EXECUTE FUNCTION clinical.r17a_stamp();

CREATE TABLE clinical.r17a_parted (id integer, region integer NOT NULL, secret text) PARTITION BY LIST (region);
CREATE TABLE clinical.r17a_parted_1 PARTITION OF clinical.r17a_parted FOR VALUES IN (1);
INSERT INTO clinical.r17a_parted VALUES (1, 1, '${S.parted}');

CREATE TABLE clinical.r17a_plain (id integer, note text);
CREATE TABLE clinical.r17a_echoed (id integer PRIMARY KEY, note text, secret text);
INSERT INTO clinical.r17a_echoed VALUES (1, 'n', '${S.echoed}');
CREATE RULE r17a_echoed AS ON UPDATE TO clinical.r17a_echoed DO ALSO SELECT secret FROM clinical.r17a_echoed WHERE id = NEW.id;
CREATE RULE r17a_echoed_insert AS ON INSERT TO clinical.r17a_echoed DO ALSO SELECT secret FROM clinical.r17a_echoed WHERE id = 1;
CREATE TABLE clinical.r17a_relay (id integer, note text);
CREATE RULE r17a_relay AS ON INSERT TO clinical.r17a_relay DO ALSO SELECT ssn FROM clinical.patients WHERE id = 1;
CREATE VIEW clinical.r17a_relay_v AS SELECT id, note FROM clinical.r17a_plain;
CREATE RULE r17a_relay_v AS ON INSERT TO clinical.r17a_relay_v DO INSTEAD SELECT ssn FROM clinical.patients WHERE id = 1;
CREATE TABLE clinical.r17a_logged (id integer, note text);
CREATE FUNCTION clinical.r17a_log_patient() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE NOTICE 'logged for %', (SELECT ssn FROM clinical.patients WHERE id = 1);
  RETURN NULL;
END $$;
CREATE TRIGGER r17a_logged BEFORE INSERT ON clinical.r17a_logged FOR EACH ROW EXECUTE FUNCTION clinical.r17a_log_patient();
CREATE TRIGGER r17a_logged_truncate BEFORE TRUNCATE ON clinical.r17a_logged FOR EACH STATEMENT EXECUTE FUNCTION clinical.r17a_log_patient();
`;

const CLEANUP = `
DROP VIEW IF EXISTS clinical.r17a_relay_v;
DROP TABLE IF EXISTS clinical.r17a_suppressed, clinical.r17a_refs, clinical.r17a_notified, clinical.r17a_late, clinical.r17a_parted, clinical.r17a_plain, clinical.r17a_logged, clinical.r17a_echoed, clinical.r17a_relay CASCADE;
DROP FUNCTION IF EXISTS clinical.r17a_quote(), clinical.r17a_stamp(), clinical.r17a_log_patient();
DROP SCHEMA IF EXISTS r17a_ext CASCADE;
`;

/** The trigger functions the policy vouches for. */
const REVIEWED = ['clinical.r17a_stamp'];

const WRITERS: WriterPolicies = {
  prefix: 'r17a',
  masked: MASKED,
  plain: PLAIN,
  writable: [...MASKED, ...PLAIN],
  reviewed: REVIEWED,
  adminWrites: 'clinical.r17a_logged',
};

/** The example policies of `engine` with the r17a writers' added. */
const policies = (engine: EngineKind): string => writerPolicyDir(engine, WRITERS);


/** A statement's row count, or its error with every field sent, and the notices it got. */
interface Outcome {
  code: string | null;
  rowCount: number | null;
  rows: unknown[];
  error: Record<string, unknown> | null;
  notices: Array<Record<string, unknown>>;
}

for (const engine of ['rego', 'cedar'] as const) {
  describe(`red-team round 17a: trigger functions the review passes, and catalog changes on the server (${engine})`, () => {
    let t: TestGateway;
    let dir: string;
    let direct: pg.Client;
    let writer: pg.Client;
    let ssn: string;
    let notices: Array<Record<string, unknown>> = [];
    const seen: Outcome[] = [];
    const secrets = (): string[] => [...Object.values(S), ssn];

    const run = async (sql: string, values?: unknown[]): Promise<Outcome> => {
      notices = [];
      let o: Outcome;
      try {
        const r = await writer.query(sql, values);
        o = { code: null, rowCount: r.rowCount, rows: r.rows, error: null, notices };
      } catch (e) {
        const err = e as pg.DatabaseError;
        o = { code: err.code ?? 'no-sqlstate', rowCount: null, rows: [], error: { ...err, message: err.message }, notices };
      }
      await new Promise((r) => setImmediate(r));
      o.notices = [...notices];
      seen.push(o);
      return o;
    };
    /** `sql` in a transaction block that is rolled back. */
    const inBlock = async (sql: string, values?: unknown[]): Promise<Outcome> => {
      await run('BEGIN');
      const o = await run(sql, values);
      await run('ROLLBACK');
      return o;
    };
    const leaked = (o: Outcome | Outcome[]): string[] => {
      const got = JSON.stringify(o);
      return secrets().filter((v) => got.includes(v));
    };
    /** What a guess got: an error's SQLSTATE, or the row count. */
    const answer = (o: Outcome): string => o.code ?? `rows ${o.rowCount}`;

    beforeAll(async () => {
      dir = policies(engine);
      // No background refresh and no lock poll: changes made directly on the server are known only
      // through the fresh-catalog check before a write under a mask.
      const url = await ensureClinicDatabase();
      direct = await tablesAfresh(url, CLEANUP, SETUP);
      // Gatehouse's own role is not a superuser and cannot become the fixtures' owner: else it could replace
      // their trigger functions, and every masked write firing one is refused (issue 6).
      t = await startTestGateway({ engine, policiesDir: dir, upstreamUrl: await nonSuperuserUpstream(url), catalog: { lockPollMs: 0, timing: { refreshAfterMs: 600_000, minBackoffMs: 1_000, maxBackoffMs: 30_000, minRefreshIntervalMs: 600_000 } } });
      ssn = ((await direct.query('SELECT ssn FROM clinical.patients WHERE id = 1')).rows[0] as { ssn: string }).ssn;
      writer = await t.client(await t.token(`r17a-writer-${engine}`, ['r17a-writers']));
      writer.on('notice', (n) => notices.push({ ...n, message: n.message }));
    });
    afterAll(() => closeWriterRound({ writer, direct, cleanup: CLEANUP, gateway: t, dir }));

    it('reads are masked, and a write the review passes runs (the premise)', async () => {
      const r = await run('SELECT secret FROM clinical.r17a_late WHERE id = 1');
      expect(r.code, JSON.stringify(r.error)).toBeNull();
      const read = await writer.query('SELECT secret FROM clinical.r17a_suppressed');
      expect(read.rows).toEqual([{ secret: '***' }]);
      const stamped = await inBlock("UPDATE clinical.r17a_late SET note = 'x' WHERE id = 1");
      expect(stamped.code, JSON.stringify(stamped.error)).toBeNull();
      expect(stamped.rowCount).toBe(1);
    });

    // R17a-1: the built-in trigger skips an update that changes nothing, so the row count says whether
    // the assigned masked value is the stored one.
    it('R17a-1: an UPDATE firing suppress_redundant_updates_trigger is no oracle on the masked column', async () => {
      for (const [sql, values] of [
        ['UPDATE clinical.r17a_suppressed SET secret = $1 WHERE id = 1', (v: string) => [v]],
        ["UPDATE clinical.r17a_suppressed SET secret = '%' WHERE id = 1", () => undefined],
      ] as const) {
        const text = (v: string): string => sql.replace('%', v);
        const stored = await inBlock(text(S.suppressed), values(S.suppressed));
        const guess = await inBlock(text('R17a-never-stored'), values('R17a-never-stored'));
        expect.soft(answer(stored), sql).toBe(answer(guess));
        expect.soft(stored.code, sql).toBe('0A000');
        expect.soft(String(stored.error?.['message']), sql).toContain('suppress_redundant_updates_trigger');
      }
    });

    // R17a-2: refint's check_primary_key, a C function in a user schema, looks the written value up in
    // clinical.patients.ssn: an error when no patient has it, none when one does.
    it("R17a-2: a C trigger function outside pg_catalog (refint's check_primary_key) is no existence oracle", async () => {
      for (const values of [[ssn], ['000-00-0000']]) {
        const r = await inBlock('INSERT INTO clinical.r17a_refs VALUES (1, $1)', values);
        expect.soft(r.code, 'refint').toBe('0A000');
        expect.soft(String(r.error?.['message'])).toContain('r17a_ext.check_primary_key');
      }
    });

    // R17a-2: tcn NOTIFYs the updated row's primary key (here the masked column) at commit.
    it("R17a-2: tcn's triggered_change_notification (sends the row's key values) is refused under a mask", async () => {
      const r = await inBlock("UPDATE clinical.r17a_notified SET note = 'x' WHERE note = 'n'");
      expect(r.code, JSON.stringify(r.error)).toBe('0A000');
      expect(String(r.error?.['message'])).toContain('r17a_ext.triggered_change_notification');
    });

    it('held: a trigger swapped on the server for an unreviewed function under the same name is known before the write', async () => {
      await direct.query('CREATE OR REPLACE TRIGGER r17a_late_stamp BEFORE UPDATE ON clinical.r17a_late FOR EACH ROW EXECUTE FUNCTION clinical.r17a_quote()');
      try {
        const r = await inBlock("UPDATE clinical.r17a_late SET note = 'y' WHERE id = 1");
        expect(r.code).toBe('0A000');
        expect(String(r.error?.['message'])).toContain('clinical.r17a_quote');
        expect(r.notices).toEqual([]);
      } finally {
        await direct.query('CREATE OR REPLACE TRIGGER r17a_late_stamp BEFORE UPDATE ON clinical.r17a_late FOR EACH ROW EXECUTE FUNCTION clinical.r17a_stamp()');
      }
      const back = await inBlock("UPDATE clinical.r17a_late SET note = 'z' WHERE id = 1");
      expect(back.code, JSON.stringify(back.error)).toBeNull();
    });

    it('held: a disabled trigger enabled directly on the server is known before the write', async () => {
      await direct.query('CREATE TRIGGER r17a_late_quote BEFORE UPDATE ON clinical.r17a_late FOR EACH ROW EXECUTE FUNCTION clinical.r17a_quote()');
      await direct.query('ALTER TABLE clinical.r17a_late DISABLE TRIGGER r17a_late_quote');
      try {
        // The snapshot is read again (the trigger is new), and the disabled trigger fires nothing.
        const off = await inBlock("UPDATE clinical.r17a_late SET note = 'y' WHERE id = 1");
        expect(off.code, JSON.stringify(off.error)).toBeNull();
        await direct.query('ALTER TABLE clinical.r17a_late ENABLE TRIGGER r17a_late_quote');
        const on = await inBlock("UPDATE clinical.r17a_late SET note = 'y' WHERE id = 1");
        expect(on.code).toBe('0A000');
        expect(on.notices).toEqual([]);
      } finally {
        await direct.query('DROP TRIGGER r17a_late_quote ON clinical.r17a_late');
      }
    });

    it('held: a unique index made directly on a partition of a masked parent is known before a write through the parent', async () => {
      await direct.query('CREATE UNIQUE INDEX IF NOT EXISTS r17a_parted_1_secret ON clinical.r17a_parted_1 (secret)');
      const stored = await inBlock('INSERT INTO clinical.r17a_parted VALUES (2, 1, $1)', [S.parted]);
      const guess = await inBlock('INSERT INTO clinical.r17a_parted VALUES (2, 1, $1)', ['R17a-never-stored']);
      expect(answer(stored)).toBe(answer(guess));
      expect(stored.code).toBe('42501');
    });

    it('held: INSERT, COPY FROM and TRUNCATE of an unmasked table with an unreviewed trigger are refused under a mask', async () => {
      for (const sql of ["INSERT INTO clinical.r17a_logged VALUES (1, 'x')", 'COPY clinical.r17a_logged FROM STDIN', 'TRUNCATE clinical.r17a_logged']) {
        const r = await inBlock(sql);
        expect.soft(r.code, sql).not.toBeNull();
        expect.soft(r.notices, sql).toEqual([]);
      }
    });

    // R17a-4: a rule's actions run on the server, raw: a SELECT in one returns its rows to the writer as
    // they are stored. A rule reading another masked table was refused (R10-7); one reading only its own
    // table was not seen at all (the snapshot's rule reads leave a table's own out).
    it('R17a-4: a write to a masked table whose own rule SELECTs it is refused, and no stored value comes back', async () => {
      for (const sql of ["UPDATE clinical.r17a_echoed SET note = 'y' WHERE id = 1", "INSERT INTO clinical.r17a_echoed (id, note) VALUES (2, 'y')"]) {
        const r = await inBlock(sql);
        expect.soft(leaked(r), sql).toEqual([]);
        expect.soft(r.code, sql).toBe('42501');
        expect.soft(String(r.error?.['message']), sql).toContain('has rules of its own');
      }
    });

    it('held: a write to an unmasked table, or a view over one, whose rule SELECTs the masked patients is refused', async () => {
      for (const sql of ["INSERT INTO clinical.r17a_relay VALUES (1, 'x')", "INSERT INTO clinical.r17a_relay_v VALUES (1, 'x')"]) {
        const r = await inBlock(sql);
        expect.soft(leaked(r), sql).toEqual([]);
        expect.soft(r.code, sql).not.toBeNull();
      }
    });

    it('held: a rule made directly on the server on a masked table, returning masked rows, is known before the write', async () => {
      await direct.query('CREATE RULE r17a_late_echo AS ON UPDATE TO clinical.r17a_late DO ALSO SELECT secret FROM clinical.r17a_late WHERE id = NEW.id');
      try {
        const r = await inBlock("UPDATE clinical.r17a_late SET note = 'y' WHERE id = 1");
        expect(leaked(r)).toEqual([]);
        expect(r.code).toBe('42501');
      } finally {
        await direct.query('DROP RULE r17a_late_echo ON clinical.r17a_late');
      }
    });

    // R17a-3: a rule made directly on the server on a table the writer reads unmasked was known only
    // when the snapshot was read again (the lock poll may see CREATE RULE's lock, the background
    // refresh comes later; this file's gateway has neither), so its DO ALSO SELECT ran raw on the server
    // and the SSN reached the writer. Fixed: every write of an identity under a mask is checked against
    // the server's catalog (enforce/fresh-catalog.ts), so the rule is read and the write refused (R10-7).
    it('R17a-3: a rule made directly on the server on an unmasked table is met before the write runs', async () => {
      await direct.query('CREATE RULE r17a_plain_echo AS ON INSERT TO clinical.r17a_plain DO ALSO SELECT ssn FROM clinical.patients WHERE id = 1');
      let r: Outcome;
      try {
        r = await inBlock("INSERT INTO clinical.r17a_plain VALUES (1, 'x')");
      } finally {
        await direct.query('DROP RULE r17a_plain_echo ON clinical.r17a_plain');
      }
      expect(leaked(r)).toEqual([]);
      expect(r.code, JSON.stringify(r.rows)).toBe('42501');
      // Dropped again: the next write is checked, the snapshot read again, and the INSERT runs.
      const after = await inBlock("INSERT INTO clinical.r17a_plain VALUES (1, 'x')");
      expect(after.code, JSON.stringify(after.error)).toBeNull();
    });

    // A trigger created directly on the server on a table the writer reads unmasked (before R17a-3's
    // fix, the README's named limit): its function is unreviewed, so the write is refused.
    it('R17a-3: a trigger made directly on the server on an unmasked table is met before the write runs', async () => {
      await direct.query('CREATE TRIGGER r17a_plain_log BEFORE INSERT ON clinical.r17a_plain FOR EACH ROW EXECUTE FUNCTION clinical.r17a_log_patient()');
      let r: Outcome;
      try {
        r = await inBlock("INSERT INTO clinical.r17a_plain VALUES (2, 'x')");
      } finally {
        await direct.query('DROP TRIGGER r17a_plain_log ON clinical.r17a_plain');
      }
      expect(leaked(r)).toEqual([]);
      expect(r.code, JSON.stringify(r.notices)).toBe('0A000');
      expect(String(r.error?.['message'])).toContain('clinical.r17a_log_patient');
    });

    it('held: the horizon verdict of an identity without masks is not reused for the writer under a mask (decision cache)', async () => {
      const admin = await t.client(await t.token(`r17a-admin-${engine}`, ['r17a-admins']));
      try {
        const sql = "INSERT INTO clinical.r17a_logged VALUES (7, 'cache')";
        const before = await inBlock(sql);
        await admin.query('BEGIN');
        const cleared = await admin.query(sql);
        await admin.query('ROLLBACK');
        const after = await inBlock(sql);
        expect.soft(before.code).toBe('0A000');
        expect.soft(cleared.rowCount).toBe(0); // the BEFORE trigger returns NULL: the row is skipped
        expect.soft(after.code).toBe('0A000');
        expect.soft(after.notices).toEqual([]);
      } finally {
        await admin.end();
      }
    });

    it('nothing of a seeded value appears in anything the writer got back', () => {
      expect(seen.length).toBeGreaterThan(15);
      expect(leaked(seen)).toEqual([]);
    });
  });
}

// R17a-5: a write held for approval was checked against the server's constraints (R10-10) before the
// wait, never after it. A unique index made meanwhile (directly on the server, by someone else) was met
// when the approved write ran: 23505 for a value stored in another row, UPDATE 1 for a new one. Fixed:
// checked again when released (enforce/fresh-catalog.ts changedWhileHeld), refused (55000) on a change.
for (const engine of ['rego', 'cedar'] as const) {
  describe(`red-team round 17a: a write held for approval meets constraints made while it waited (${engine})`, () => {
    let t: TestGateway;
    let direct: pg.Client;
    let agentToken: string;
    let leadToken: string;
    let stored: string;

    beforeAll(async () => {
      t = await startTestGateway({ engine, admin: true });
      direct = new pg.Client({ connectionString: t.upstreamUrl });
      await direct.connect();
      await direct.query('DROP INDEX IF EXISTS clinical.r17a_phone');
      stored = ((await direct.query('SELECT phone FROM clinical.patients WHERE id = 2')).rows[0] as { phone: string }).phone;
      agentToken = await t.token(`r17a-agent-${engine}`, ['agents']);
      leadToken = await t.token(`r17a-lead-${engine}`, ['clinical-leads']);
    });
    afterAll(async () => {
      await direct?.query('DROP INDEX IF EXISTS clinical.r17a_phone').catch(() => undefined);
      await direct?.end();
      await t?.close();
    });

    /**
     * The agent's UPDATE of patient 1's (masked) phone to `guess` in a simple Query (nothing reaches the
     * server before approval; with the extended protocol, Bind's lock on the table would hold the index
     * back until the transaction ends), approved after a unique index on phone was made; patient 1's
     * phone is put back after.
     */
    const approvedAfterIndex = async (guess: string): Promise<string> => {
      const agent = await t.client(agentToken);
      const phone = ((await direct.query('SELECT phone FROM clinical.patients WHERE id = 1')).rows[0] as { phone: string }).phone;
      try {
        const held = agent.query(`UPDATE clinical.patients SET phone = '${guess}' WHERE id = 1`).then(
          (r) => `rows ${r.rowCount}`,
          (e: { code?: string }) => e.code ?? 'no-sqlstate',
        );
        const request = await pendingRequest(t.gw.adminPort!, leadToken, guess);
        await direct.query('CREATE UNIQUE INDEX IF NOT EXISTS r17a_phone ON clinical.patients (phone)');
        const answer = await api(t.gw.adminPort!, `/approvals/api/requests/${request.id}/answer`, leadToken, { verdict: 'approve', comment: 'ok' });
        expect(answer.status).toBe(200);
        return await held;
      } finally {
        await direct.query('DROP INDEX IF EXISTS clinical.r17a_phone');
        await direct.query('UPDATE clinical.patients SET phone = $1 WHERE id = 1', [phone]);
        await agent.end();
      }
    };

    it('still works: an approved write under a mask runs when nothing changed during the wait', async () => {
      const agent = await t.client(agentToken);
      try {
        await agent.query('BEGIN');
        const held = agent.query("UPDATE clinical.patients SET phone = '(000) 555-0001' WHERE id = 3");
        const request = await pendingRequest(t.gw.adminPort!, leadToken, '(000) 555-0001');
        await api(t.gw.adminPort!, `/approvals/api/requests/${request.id}/answer`, leadToken, { verdict: 'approve', comment: 'ok' });
        expect((await held).rowCount).toBe(1);
        await agent.query('ROLLBACK');
      } finally {
        await agent.end();
      }
    });

    it('the premise: the agent reads phone masked, and the UPDATE is held for approval', async () => {
      const agent = await t.client(agentToken);
      try {
        const r = await agent.query('SELECT phone FROM clinical.patients WHERE id = 2');
        expect(r.rows[0].phone).not.toBe(stored);
      } finally {
        await agent.end();
      }
    });

    it('R17a-5: a guess of a stored phone and a new one get the same answer after approval: refused, the constraints changed', async () => {
      const forStored = await approvedAfterIndex(stored);
      const forNew = await approvedAfterIndex('(000) 555-0000');
      // Before the fix: 23505 for the stored phone, rows 1 for the new one.
      expect(forStored).toBe(forNew);
      expect(forStored).toBe('55000');
    });
  });
}
