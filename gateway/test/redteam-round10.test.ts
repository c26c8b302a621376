// Red-team round 10: the existence-oracle refusals and error-detail withholding of session 10
// (enforce/existence-oracles.ts, enforce/write-probe.ts, pg/upstream-relay.ts), attacked through
// forms and channels they may not see: composite keys, partitions and inheritance children, rules
// and updatable views, `(row).*` in an INSERT, writable CTEs, deferred constraints and constraint
// triggers (errors at COMMIT, SET CONSTRAINTS and Sync), and user triggers quoting NEW values in
// their messages. Through a real Gatehouse to the real PostgreSQL, both engines; no seeded secret
// may ever reach the writer, and a guess must get the same answer whether it is stored or not.
//
// Findings (fixed unless marked open): R10-1 a key over several columns (or a partial index whose
// predicate reads a masked column) when only its unmasked part is assigned; R10-2 keys and foreign
// keys of partitions and inheritance children written through the parent; R10-3 `(row).*` in an
// INSERT row; R10-4 a trigger's RAISE/cast message quoting NEW values; R10-5 errors at COMMIT, SET
// CONSTRAINTS and Sync after a masked write; R10-6 triggers of tables without masks, and INSTEAD OF
// triggers, run with raw access (session 17: refused under a mask unless the policy lists the function
// as reviewed, enforce/trigger-review.ts); R10-7 rules that redirect a write to the masked table;
// R10-8 foreign key actions writing a key over a masked column (and quoting it); R10-9 an update of
// a partition key moving whole rows under another partition's keys; R10-10 a constraint newer than
// the relation snapshot (session 17: a write under a mask reads the catalog again first,
// enforce/fresh-catalog.ts).
//
// Run: GATEHOUSE_TEST_DB=gatehouse_it_rt10 npx vitest run --project integration gateway/test/redteam-round10.test.ts

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineKind } from '../src/policy/types.ts';
import { ensureClinicDatabase, startTestGateway, type TestGateway } from './support/harness.ts';
import { nonSuperuserUpstream } from './support/upstream-role.ts';
import { writerPolicyDir, type WriterPolicies } from './support/writer-policies.ts';
import { closeWriterRound, tablesAfresh } from './support/writer-round.ts';

const S = {
  pair: 'R10-Pair-Secret-8812',
  deferred: 'R10-Deferred-Secret-7734',
  parted: 'R10-Parted-Secret-5521',
  inherited: 'R10-Inherited-Secret-6609',
  single: 'R10-Single-Secret-3390',
  audited: 'R10-Audited-Secret-1175',
  checked: 'R10-Checked-Secret-9046',
  partial: 'R10-Partial-Secret-2287',
  cascaded: 'R10-Cascaded-Secret-4419',
  moving: 'R10-Moving-Secret-3051',
  late: 'R10-Late-Secret-8130',
} as const;

/** Tables whose column `secret` the writers read redacted; they may write every r10 table and clinical.patients. */
const MASKED = ['r10_pair', 'r10_deferred', 'r10_parted', 'r10_inh_base', 'r10_single', 'r10_audited', 'r10_checked', 'r10_partial', 'r10_cascade_child', 'r10_moving', 'r10_late'].map((t) => `clinical.${t}`);
const PLAIN = ['r10_refs_parted', 'r10_inbox', 'r10_log', 'r10_patients_v', 'r10_cascade_parent', 'r10_trigger_v', 'r10_stamped', 'r10_plain'].map((t) => `clinical.${t}`);

/**
 * Trigger functions the r10 policy lists as reviewed: they read only the row written (NEW), whose
 * messages are withheld (R10-4, R10-5), or nothing at all.
 */
const REVIEWED = ['clinical.r10_audit', 'clinical.r10_check', 'clinical.r10_stamp'];

/** Made before the first session, so that the first relation snapshot holds them (an administrator's schema). */
const SETUP = `
CREATE TABLE clinical.r10_pair (id integer PRIMARY KEY, room integer NOT NULL, secret text, UNIQUE (room, secret));
INSERT INTO clinical.r10_pair VALUES (1, 101, '${S.pair}'), (2, 102, '${S.pair}'), (3, 103, 'another');

CREATE TABLE clinical.r10_deferred (id integer PRIMARY KEY, room integer NOT NULL, secret text,
  CONSTRAINT r10_deferred_room_secret UNIQUE (room, secret) DEFERRABLE INITIALLY DEFERRED);
INSERT INTO clinical.r10_deferred VALUES (1, 101, '${S.deferred}'), (2, 102, '${S.deferred}');

CREATE TABLE clinical.r10_parted (id integer, region integer NOT NULL, secret text) PARTITION BY LIST (region);
CREATE TABLE clinical.r10_parted_1 PARTITION OF clinical.r10_parted FOR VALUES IN (1);
CREATE UNIQUE INDEX r10_parted_1_secret ON clinical.r10_parted_1 (secret);
INSERT INTO clinical.r10_parted VALUES (1, 1, '${S.parted}'), (2, 1, 'another');

CREATE TABLE clinical.r10_inh_base (id integer, secret text);
CREATE TABLE clinical.r10_inh_child () INHERITS (clinical.r10_inh_base);
CREATE UNIQUE INDEX r10_inh_child_secret ON clinical.r10_inh_child (secret);
INSERT INTO clinical.r10_inh_child VALUES (1, '${S.inherited}'), (2, 'another');

CREATE TABLE clinical.r10_refs_parted (id integer, region integer NOT NULL, patient_mrn text) PARTITION BY LIST (region);
CREATE TABLE clinical.r10_refs_parted_1 PARTITION OF clinical.r10_refs_parted FOR VALUES IN (1);
ALTER TABLE clinical.r10_refs_parted_1 ADD CONSTRAINT r10_refs_parted_1_mrn FOREIGN KEY (patient_mrn) REFERENCES clinical.patients (mrn);

CREATE TABLE clinical.r10_single (id integer PRIMARY KEY, secret text UNIQUE);
INSERT INTO clinical.r10_single VALUES (1, '${S.single}');

CREATE TABLE clinical.r10_inbox (id integer, mrn text);
CREATE RULE r10_inbox_to_patients AS ON INSERT TO clinical.r10_inbox DO INSTEAD
  INSERT INTO clinical.patients VALUES (NEW.id, NEW.mrn, 'a', 'b', 'c', date '2000-01-01', 'p', 'e', 'x', 'd');

CREATE VIEW clinical.r10_patients_v AS SELECT * FROM clinical.patients;

CREATE TABLE clinical.r10_audited (id integer PRIMARY KEY, secret text, note text);
INSERT INTO clinical.r10_audited VALUES (1, '${S.audited}', 'n');
CREATE FUNCTION clinical.r10_audit() RETURNS trigger LANGUAGE plpgsql SET search_path = clinical, pg_temp AS $$
BEGIN
  IF NEW.note = 'notice' THEN RAISE NOTICE 'saw row %', NEW.secret;
  ELSIF NEW.note = 'error' THEN RAISE EXCEPTION 'refused row %', NEW.secret USING DETAIL = NEW.secret, HINT = NEW.secret;
  ELSIF NEW.note = 'cast' THEN PERFORM NEW.secret::integer;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER r10_audit BEFORE UPDATE ON clinical.r10_audited FOR EACH ROW EXECUTE FUNCTION clinical.r10_audit();

CREATE TABLE clinical.r10_checked (id integer PRIMARY KEY, secret text, note text);
INSERT INTO clinical.r10_checked VALUES (1, '${S.checked}', 'n');
CREATE FUNCTION clinical.r10_check() RETURNS trigger LANGUAGE plpgsql SET search_path = clinical, pg_temp AS $$
BEGIN
  IF NEW.note = 'boom' THEN RAISE EXCEPTION 'row % is not allowed', NEW.secret USING DETAIL = NEW.secret, ERRCODE = '23514'; END IF;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER r10_check AFTER UPDATE ON clinical.r10_checked DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION clinical.r10_check();

CREATE TABLE clinical.r10_partial (id integer PRIMARY KEY, code integer, secret text);
CREATE UNIQUE INDEX r10_partial_code ON clinical.r10_partial (code) WHERE secret = '${S.partial}';
INSERT INTO clinical.r10_partial VALUES (1, 7, '${S.partial}'), (2, 8, 'another');

CREATE TABLE clinical.r10_cascade_parent (code integer PRIMARY KEY);
INSERT INTO clinical.r10_cascade_parent VALUES (0), (1), (2), (3);
CREATE TABLE clinical.r10_cascade_child (id integer PRIMARY KEY,
  parent_code integer DEFAULT 0 REFERENCES clinical.r10_cascade_parent ON DELETE SET DEFAULT ON UPDATE SET DEFAULT, secret text,
  UNIQUE (parent_code, secret));
INSERT INTO clinical.r10_cascade_child VALUES (1, 0, '${S.cascaded}'), (2, 2, '${S.cascaded}'), (3, 3, 'another');

CREATE TABLE clinical.r10_moving (id integer, region integer NOT NULL, secret text, note text) PARTITION BY LIST (region);
CREATE TABLE clinical.r10_moving_1 PARTITION OF clinical.r10_moving FOR VALUES IN (1);
CREATE TABLE clinical.r10_moving_2 PARTITION OF clinical.r10_moving FOR VALUES IN (2);
CREATE UNIQUE INDEX r10_moving_2_secret ON clinical.r10_moving_2 (secret);
INSERT INTO clinical.r10_moving VALUES (1, 1, '${S.moving}', 'n'), (2, 1, 'another', 'n'), (3, 2, '${S.moving}', 'n');

CREATE TABLE clinical.r10_late (id integer PRIMARY KEY, secret text);
INSERT INTO clinical.r10_late VALUES (1, '${S.late}');

CREATE TABLE clinical.r10_log (id integer, note text);
CREATE FUNCTION clinical.r10_log_patient() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE NOTICE 'logged for %', (SELECT ssn FROM clinical.patients WHERE id = NEW.id);
  RETURN NEW;
END $$;
CREATE TRIGGER r10_log BEFORE INSERT ON clinical.r10_log FOR EACH ROW EXECUTE FUNCTION clinical.r10_log_patient();

CREATE VIEW clinical.r10_trigger_v AS SELECT 1 AS id, 'm'::text AS mrn;
CREATE FUNCTION clinical.r10_trigger_v_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO clinical.patients VALUES (NEW.id, NEW.mrn, 'a', 'b', 'c', date '2000-01-01', 'p', 'e', 'x', 'd');
  RETURN NEW;
END $$;
CREATE TRIGGER r10_trigger_v INSTEAD OF INSERT ON clinical.r10_trigger_v FOR EACH ROW EXECUTE FUNCTION clinical.r10_trigger_v_insert();

CREATE TABLE clinical.r10_stamped (id integer, note text);
CREATE FUNCTION clinical.r10_stamp() RETURNS trigger LANGUAGE plpgsql SET search_path = clinical, pg_temp AS $$
BEGIN
  NEW.note := coalesce(NEW.note, 'stamped');
  RETURN NEW;
END $$;
CREATE TRIGGER r10_stamp BEFORE INSERT ON clinical.r10_stamped FOR EACH ROW EXECUTE FUNCTION clinical.r10_stamp();

CREATE TABLE clinical.r10_plain (id integer, note text);
`;

const CLEANUP = `
DROP VIEW IF EXISTS clinical.r10_patients_v, clinical.r10_trigger_v;
DROP TABLE IF EXISTS clinical.r10_pair, clinical.r10_deferred, clinical.r10_parted, clinical.r10_inh_base CASCADE;
DROP TABLE IF EXISTS clinical.r10_moving, clinical.r10_late CASCADE;
DROP TABLE IF EXISTS clinical.r10_partial, clinical.r10_cascade_child, clinical.r10_cascade_parent CASCADE;
DROP TABLE IF EXISTS clinical.r10_refs_parted, clinical.r10_single, clinical.r10_inbox, clinical.r10_audited, clinical.r10_checked, clinical.r10_log CASCADE;
DROP TABLE IF EXISTS clinical.r10_stamped, clinical.r10_plain;
DROP FUNCTION IF EXISTS clinical.r10_audit(), clinical.r10_check(), clinical.r10_log_patient(), clinical.r10_trigger_v_insert(), clinical.r10_stamp();
DELETE FROM clinical.patients WHERE id >= 9000;
`;

const WRITERS: WriterPolicies = {
  prefix: 'r10',
  masked: MASKED,
  plain: [...PLAIN, 'clinical.r10_parted_1', 'clinical.r10_inh_child', 'clinical.r10_refs_parted_1', 'clinical.r10_moving_1', 'clinical.r10_moving_2'],
  writable: [...MASKED, ...PLAIN, 'clinical.patients', 'clinical.r10_parted_1', 'clinical.r10_inh_child', 'clinical.r10_refs_parted_1'],
  reviewed: REVIEWED,
  adminWrites: 'clinical.r10_log',
};

/** The example policies of `engine` with the r10 writers' added. */
const policies = (engine: EngineKind): string => writerPolicyDir(engine, WRITERS);


/** A statement's row count, or its error with every field PostgreSQL (or Gatehouse) sent, and the notices it got. */
interface Outcome {
  sql: string;
  code: string | null;
  rowCount: number | null;
  rows: unknown[];
  error: Record<string, unknown> | null;
  notices: Array<Record<string, unknown>>;
}

for (const engine of ['rego', 'cedar'] as const) {
  describe(`red-team round 10: existence oracles and withheld error fields (${engine})`, () => {
    let t: TestGateway;
    let dir: string;
    let direct: pg.Client;
    let writer: pg.Client;
    let mrn: string;
    let ssn: string;
    let notices: Array<Record<string, unknown>> = [];
    const seen: Outcome[] = [];
    const secrets = (): string[] => [...Object.values(S), mrn, ssn];

    const run = async (sql: string, values?: unknown[]): Promise<Outcome> => {
      notices = [];
      let o: Outcome;
      try {
        const r = await writer.query(sql, values);
        o = { sql, code: null, rowCount: r.rowCount, rows: r.rows, error: null, notices };
      } catch (e) {
        const err = e as pg.DatabaseError;
        o = { sql, code: err.code ?? 'no-sqlstate', rowCount: null, rows: [], error: { ...err, message: err.message }, notices };
      }
      // Notices arrive before the statement's answer; give a late one a turn anyway.
      await new Promise((r) => setImmediate(r));
      o.notices = [...notices];
      seen.push(o);
      return o;
    };
    /** Runs `sql` in a transaction block that is rolled back (so that a probe that ran changes nothing). */
    const inBlock = async (sql: string, values?: unknown[]): Promise<Outcome> => {
      await run('BEGIN');
      const o = await run(sql, values);
      await run('ROLLBACK');
      return o;
    };
    /** The seeded secrets in what the writer got back (not in the statement it sent, which may hold a guess). */
    const leaked = (o: Outcome | Outcome[]): string[] => {
      const got = JSON.stringify((Array.isArray(o) ? o : [o]).map(({ sql: _sent, ...back }) => back));
      return secrets().filter((v) => got.includes(v));
    };

    beforeAll(async () => {
      dir = policies(engine);
      // No background refresh during the file, and no poll of DDL locks: R10-10 needs a constraint the
      // snapshot does not hold yet. The poll (every 250 ms by default) sometimes sees the SHARE lock of
      // R10-10's CREATE UNIQUE INDEX and reads the catalog again, which closes the gap by chance.
      const url = await ensureClinicDatabase();
      direct = await tablesAfresh(url, CLEANUP, SETUP);
      // Gatehouse's own role is not a superuser and cannot become the fixtures' owner: else it could replace
      // their trigger and CHECK functions, and every masked write firing one is refused (issue 6).
      t = await startTestGateway({ engine, policiesDir: dir, upstreamUrl: await nonSuperuserUpstream(url), catalog: { lockPollMs: 0, timing: { refreshAfterMs: 600_000, minBackoffMs: 1_000, maxBackoffMs: 30_000, minRefreshIntervalMs: 600_000 } } });
      const p = (await direct.query('SELECT mrn, ssn FROM clinical.patients WHERE id = 1')).rows[0] as { mrn: string; ssn: string };
      mrn = p.mrn;
      ssn = p.ssn;
      writer = await t.client(await t.token(`r10-writer-${engine}`, ['r10-writers']));
      writer.on('notice', (n) => notices.push({ ...n, message: n.message }));
    });
    afterAll(() => closeWriterRound({ direct, cleanup: CLEANUP, gateway: t, dir }));

    it('reads are masked (the premise)', async () => {
      for (const table of MASKED) {
        const r = await run(`SELECT secret FROM ${table} WHERE secret IS NOT NULL LIMIT 1`);
        expect.soft(r.code, table).toBeNull();
        expect.soft(r.rows, table).toEqual([{ secret: '***' }]);
      }
    });

    it('R10-1: updating the unmasked part of a unique key with a masked column is refused (equal masked values would fail with 23505)', async () => {
      // Rows 1 and 2 hold the same secret, row 3 another: moving row 2 or 3 into room 101 tells which.
      const same = await inBlock('UPDATE clinical.r10_pair SET room = 101 WHERE id = 2');
      const other = await inBlock('UPDATE clinical.r10_pair SET room = 101 WHERE id = 3');
      expect.soft(same.code).toBe('42501');
      expect.soft(other.code).toBe('42501');
      expect.soft(String(same.error?.['message'])).toContain('"secret"');
    });

    it('R10-1: the same through a deferred key: refused before it runs (else COMMIT would fail, quoting the secret)', async () => {
      await run('BEGIN');
      const update = await run('UPDATE clinical.r10_deferred SET room = 101 WHERE id = 2');
      const commit = await run('COMMIT');
      expect.soft(update.code).toBe('42501');
      expect.soft(leaked(commit)).toEqual([]);
      expect.soft(leaked(update)).toEqual([]);
    });

    it('R10-1: a partial unique index whose predicate reads a masked column is an oracle on it: refused', async () => {
      // Code 7 conflicts only while row 1 holds the secret the predicate names.
      for (const code of [7, 8]) {
        const r = await inBlock('INSERT INTO clinical.r10_partial (id, code) VALUES (9, $1)', [code]);
        expect.soft(r.code, String(code)).toBe('42501');
      }
    });

    it('R10-8: a DELETE or key update whose foreign key action writes a key covering a masked column is refused, and its error fields withheld', async () => {
      // Deleting parent 2 sets child 2 to (0, secret): it fails when child 1 holds the same secret; parent 3's child another.
      for (const sql of ['DELETE FROM clinical.r10_cascade_parent WHERE code = $1', 'UPDATE clinical.r10_cascade_parent SET code = 9 WHERE code = $1']) {
        for (const code of [2, 3]) {
          const r = await inBlock(sql, [code]);
          expect.soft(leaked(r), sql).toEqual([]);
          expect.soft(r.code, sql).toBe('42501');
        }
      }
    });

    it('R10-2: a unique index on a partition only, written through the partitioned parent, is refused', async () => {
      for (const guess of [S.parted, 'R10-never-stored']) {
        const r = await inBlock('INSERT INTO clinical.r10_parted (id, region, secret) VALUES (9, 1, $1)', [guess]);
        expect.soft(r.code, guess).toBe('42501');
      }
      const copy = await run('COPY clinical.r10_parted FROM STDIN');
      expect.soft(copy.code).toBe('42501');
    });

    it('R10-2: a unique index on an inheritance child, updated through the parent, is refused', async () => {
      for (const guess of [S.inherited, 'R10-never-stored']) {
        const r = await inBlock('UPDATE clinical.r10_inh_base SET secret = $1 WHERE id = 2', [guess]);
        expect.soft(r.code, guess).toBe('42501');
      }
      // ONLY the parent touches no child row: it runs.
      const only = await inBlock("UPDATE ONLY clinical.r10_inh_base SET secret = 'x' WHERE id = 2");
      expect.soft(only.code, JSON.stringify(only.error)).toBeNull();
    });

    it('R10-9: an update of the partition key moves the whole row into another partition, under its keys: refused', async () => {
      // Row 1 moving into region 2 fails when a row there holds the same secret; row 2 does not.
      for (const id of [1, 2]) {
        const r = await inBlock('UPDATE clinical.r10_moving SET region = 2 WHERE id = $1', [id]);
        expect.soft(r.code, String(id)).toBe('42501');
      }
      // An update that moves no row runs.
      const note = await inBlock("UPDATE clinical.r10_moving SET note = 'x' WHERE id = 1");
      expect.soft(note.code, JSON.stringify(note.error)).toBeNull();
    });

    it('R10-2: a foreign key declared on a partition into a masked column, written through the parent, is refused', async () => {
      for (const guess of [mrn, 'MRN-R10-NEVER']) {
        const r = await inBlock('INSERT INTO clinical.r10_refs_parted VALUES (1, 1, $1)', [guess]);
        expect.soft(r.code, guess).toBe('42501');
      }
    });

    it('R10-7: a rule that turns an INSERT into one on the masked table is refused', async () => {
      const stored = await inBlock('INSERT INTO clinical.r10_inbox VALUES (9100, $1)', [mrn]);
      const fresh = await inBlock('INSERT INTO clinical.r10_inbox VALUES (9100, $1)', ['MRN-R10-RULE']);
      expect.soft(stored.code).toBe('42501');
      expect.soft(fresh.code).toBe('42501');
      expect.soft(String(stored.error?.['message'])).toContain('rules that reach clinical.patients');
    });

    it('an updatable view over the masked table is no oracle', async () => {
      for (const sql of [
        "INSERT INTO clinical.r10_patients_v VALUES (9101, $1, 'a', 'b', 'c', date '2000-01-01', 'p', 'e', 'x', 'd')",
        'UPDATE clinical.r10_patients_v SET mrn = $1 WHERE id = 2',
      ]) {
        const stored = await inBlock(sql, [mrn]);
        const fresh = await inBlock(sql, ['MRN-R10-VIEW']);
        expect.soft(stored.code, sql).not.toBe('23505');
        expect.soft(stored.code, sql).toBe(fresh.code);
        expect.soft(stored.code, sql).not.toBeNull();
      }
    });

    it('R10-3: an INSERT whose row is `(composite).*` fills every column: refused', async () => {
      for (const guess of [S.single, 'R10-never-stored']) {
        for (const sql of [
          'INSERT INTO clinical.r10_single VALUES ((ROW(2, $1::text)::clinical.r10_single).*)',
          'INSERT INTO clinical.r10_single SELECT (r).* FROM (SELECT ROW(2, $1::text)::clinical.r10_single AS r) s',
          'MERGE INTO clinical.r10_single t USING (SELECT 2 AS id) s ON t.id = s.id WHEN NOT MATCHED THEN INSERT VALUES ((ROW(2, $1::text)::clinical.r10_single).*)',
        ]) {
          const r = await inBlock(sql, [guess]);
          expect.soft(r.code, sql).toBe('42501');
        }
      }
    });

    it('writable CTEs, multi-column SET and column lists in another order are refused', async () => {
      for (const guess of [S.single, 'R10-never-stored']) {
        for (const sql of [
          'WITH w AS (INSERT INTO clinical.r10_single (id, secret) VALUES (3, $1) RETURNING id) SELECT count(*) FROM w',
          'WITH w AS (UPDATE clinical.r10_single SET secret = $1 WHERE id = 1 RETURNING id) SELECT count(*) FROM w',
          'INSERT INTO clinical.r10_single (secret, id) VALUES ($1, 3)',
          'INSERT INTO clinical.r10_single (secret, id) SELECT $1, 3',
          'INSERT INTO clinical.r10_single VALUES (3, $1), (4, NULL)',
          'UPDATE clinical.r10_single SET (id, secret) = (SELECT 1, $1::text) WHERE id = 1',
          'UPDATE clinical.r10_single SET (secret) = ROW($1::text) WHERE id = 1',
        ]) {
          const r = await inBlock(sql, [guess]);
          expect.soft(r.code, sql).toBe('42501');
        }
      }
    });

    it('EXPLAIN ANALYZE and SQL-level PREPARE/EXECUTE of such a write are refused too', async () => {
      for (const guess of [S.single, 'R10-never-stored']) {
        const explained = await inBlock(`EXPLAIN ANALYZE INSERT INTO clinical.r10_single VALUES (2, '${guess}')`);
        expect.soft(explained.code, 'EXPLAIN ANALYZE').toBe('42501');
        await run('BEGIN');
        const prepared = await run('PREPARE r10_put(text) AS INSERT INTO clinical.r10_single VALUES (2, $1)');
        const executed = await run(`EXECUTE r10_put('${guess}')`);
        await run('ROLLBACK');
        expect.soft(prepared.code === '42501' || executed.code === '42501', `PREPARE ${prepared.code}, EXECUTE ${executed.code}`).toBe(true);
      }
    });

    it("R10-4: a user trigger's message quoting NEW values of the masked table is withheld (notice, error, failed cast)", async () => {
      for (const note of ['notice', 'error', 'cast']) {
        const r = await inBlock('UPDATE clinical.r10_audited SET note = $1 WHERE id = 1', [note]);
        expect.soft(leaked(r), note).toEqual([]);
        const simple = await inBlock(`UPDATE clinical.r10_audited SET note = '${note}' WHERE id = 1`);
        expect.soft(leaked(simple), note).toEqual([]);
      }
    });

    it('R10-5: an error at COMMIT of a deferred constraint trigger of a masked table has its fields withheld', async () => {
      await run('BEGIN');
      const update = await run("UPDATE clinical.r10_checked SET note = 'boom' WHERE id = 1");
      expect(update.code, JSON.stringify(update.error)).toBeNull();
      const commit = await run('COMMIT');
      expect.soft(commit.code).toBe('23514');
      expect.soft(leaked(commit)).toEqual([]);
    });

    it('R10-5: the same at SET CONSTRAINTS ALL IMMEDIATE', async () => {
      await run('BEGIN');
      await run("UPDATE clinical.r10_checked SET note = 'boom' WHERE id = 1");
      const immediate = await run('SET CONSTRAINTS ALL IMMEDIATE');
      await run('ROLLBACK');
      expect.soft(immediate.code).toBe('23514');
      expect.soft(leaked(immediate)).toEqual([]);
    });

    it('R10-5: the same at the Sync that commits an extended-protocol write', async () => {
      const r = await run('UPDATE clinical.r10_checked SET note = $1 WHERE id = $2', ['boom', 1]);
      expect.soft(r.code).toBe('23514');
      expect.soft(leaked(r)).toEqual([]);
      // In autocommit, a simple query's deferred error comes with the statement itself.
      const simple = await run("UPDATE clinical.r10_checked SET note = 'boom' WHERE id = 1");
      expect.soft(simple.code).toBe('23514');
      expect.soft(leaked(simple)).toEqual([]);
    });

    it('R10-5: the same when the write went through the extended protocol inside a block and COMMIT through the simple one', async () => {
      await run('BEGIN');
      const update = await run('UPDATE clinical.r10_checked SET note = $1 WHERE id = $2', ['boom', 1]);
      expect(update.code, JSON.stringify(update.error)).toBeNull();
      const commit = await run('COMMIT');
      expect.soft(commit.code).toBe('23514');
      expect.soft(leaked(commit)).toEqual([]);
    });

    it('withholding ends with the transaction: a later error outside it keeps its detail', async () => {
      const r = await run("SELECT 'x'::integer");
      expect(r.code).toBe('22P02');
      expect(String(r.error?.['message'])).toContain('"x"');
    });

    // R10-6: a trigger on a table without masked columns runs with raw access to any table, so its
    // notice quoting a masked table's value would be relayed as it is. The writer reads masked
    // columns elsewhere (the horizon probe says so), and the trigger's function is not reviewed: refused
    // before it runs, naming the trigger and its function, in both protocols.
    it('R10-6: a write firing an unreviewed trigger (of an unmasked table) is refused under a mask, and nothing it would raise arrives', async () => {
      for (const [sql, values] of [["INSERT INTO clinical.r10_log VALUES (1, 'x')", undefined], ['INSERT INTO clinical.r10_log VALUES ($1, $2)', [1, 'x']]] as const) {
        const r = await inBlock(sql, values as unknown[] | undefined);
        expect.soft(r.code, sql).toBe('0A000');
        expect.soft(String(r.error?.['message']), sql).toContain('trigger r10_log on clinical.r10_log');
        expect.soft(String(r.error?.['message']), sql).toContain('clinical.r10_log_patient');
        expect.soft(String(r.error?.['hint']), sql).toContain('@reviewed("clinical.r10_log_patient")');
        expect.soft(r.notices, sql).toEqual([]);
        expect.soft(leaked(r), sql).toEqual([]);
      }
    });

    // R10-10: a constraint created directly on the server after the relation snapshot was read (this
    // file's gateway polls no locks and refreshes nothing in the background): a write under a mask
    // reads the snapshot again before it is decided, so the new index is known and the write refused
    // like any other oracle, a stored guess and a new one alike.
    it('R10-10: a unique index newer than the relation snapshot is no oracle', async () => {
      await direct.query('CREATE UNIQUE INDEX IF NOT EXISTS r10_late_secret ON clinical.r10_late (secret)');
      const stored = await inBlock('INSERT INTO clinical.r10_late VALUES (2, $1)', [S.late]);
      const fresh = await inBlock('INSERT INTO clinical.r10_late VALUES (2, $1)', ['R10-never-stored']);
      expect(stored.code).toBe(fresh.code);
      expect(stored.code).toBe('42501');
      expect(String(stored.error?.['message'])).toContain('r10_late_secret');
      // The same through a simple Query.
      const simple = await inBlock(`INSERT INTO clinical.r10_late VALUES (2, '${S.late}')`);
      expect(simple.code).toBe('42501');
    });

    // R10-6 and R10-10 together: a trigger created directly on the server on a masked table after the
    // snapshot was read. The check before the write finds the table's fingerprint changed, the snapshot
    // is read again, and the new trigger's unreviewed function refuses the write (it would quote an SSN).
    it('R10-10: a trigger newer than the relation snapshot is known before a write under a mask', async () => {
      const before = await inBlock('INSERT INTO clinical.r10_late (id) VALUES (3)');
      expect(before.code, JSON.stringify(before.error)).toBeNull();
      await direct.query('CREATE TRIGGER r10_late_log BEFORE INSERT ON clinical.r10_late FOR EACH ROW EXECUTE FUNCTION clinical.r10_log_patient()');
      try {
        const after = await inBlock('INSERT INTO clinical.r10_late (id) VALUES (1)');
        expect(after.code).toBe('0A000');
        expect(String(after.error?.['message'])).toContain('trigger r10_late_log on clinical.r10_late');
        expect(after.notices).toEqual([]);
        expect(leaked(after)).toEqual([]);
      } finally {
        await direct.query('DROP TRIGGER r10_late_log ON clinical.r10_late');
      }
    });

    // R10-6, through a view: an INSTEAD OF trigger writes the masked table; the catalog shows no
    // dependency of the view on it, so the unique check of clinical.patients.mrn would be an oracle (a
    // stored MRN: 23505; a new one: the row is written). The trigger's function is not reviewed: refused.
    it('R10-6: an INSTEAD OF trigger of a view that writes the masked table is no oracle', async () => {
      const stored = await inBlock('INSERT INTO clinical.r10_trigger_v VALUES (9200, $1)', [mrn]);
      const fresh = await inBlock('INSERT INTO clinical.r10_trigger_v VALUES (9200, $1)', ['MRN-R10-TRIGGER']);
      expect(stored.code).toBe(fresh.code);
      expect(stored.code).toBe('0A000');
      expect(String(stored.error?.['message'])).toContain('clinical.r10_trigger_v_insert');
    });

    it('still works under a mask: a write whose only trigger function is reviewed, and a write of a table without triggers', async () => {
      await run('BEGIN');
      const stamped = await run('INSERT INTO clinical.r10_stamped (id) VALUES (1) RETURNING note');
      const plain = await run("INSERT INTO clinical.r10_plain VALUES (1, 'x')");
      await run('ROLLBACK');
      expect.soft(stamped.code, JSON.stringify(stamped.error)).toBeNull();
      expect.soft(stamped.rows).toEqual([{ note: 'stamped' }]);
      expect.soft(plain.code, JSON.stringify(plain.error)).toBeNull();
      expect.soft(plain.rowCount).toBe(1);
    });

    it('an identity without masks (it reads every table raw) may still write through the unreviewed trigger', async () => {
      const admin = await t.client(await t.token(`r10-admin-${engine}`, ['r10-admins']));
      try {
        await admin.query('BEGIN');
        const r = await admin.query("INSERT INTO clinical.r10_log VALUES (1, 'x')");
        await admin.query('ROLLBACK');
        expect(r.rowCount).toBe(1);
      } finally {
        await admin.end();
      }
    });

    it('nothing of a seeded value appears in any field of anything the writer got back', () => {
      expect(seen.length).toBeGreaterThan(40);
      expect(leaked(seen)).toEqual([]);
    });

    it('nor in any audit record (outcomes carry the error message Gatehouse relayed)', async () => {
      const records = await t.auditUntil((r) => r.filter((x) => x.type === 'outcome').length >= 40);
      const text = JSON.stringify(records);
      expect(secrets().filter((v) => text.includes(v))).toEqual([]);
      // Outcome messages have digit runs blanked (audit/redact.ts): look for the secrets' other part too.
      expect(text).not.toContain('-Secret-');
    });
  });
}
