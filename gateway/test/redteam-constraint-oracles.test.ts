// Existence oracles through constraints (issue 6, closed here): an identity that reads a table masked
// and may write it, or may write another table whose foreign key references it, must not learn
// whether a guessed masked value is stored from a write's SQLSTATE (23505 unique, 23P01 exclusion,
// 23503 foreign key) or from the row count of INSERT ... ON CONFLICT DO NOTHING. Through Gatehouse to
// the real PostgreSQL with both engines; `oracle-writers` read clinical.patients with the agents'
// masks, read clinical.oracle_bookings with guest and contact masked, and may write both and
// clinical.oracle_referrals (whose foreign key references the masked clinical.patients.mrn).
//
// Run: GATEHOUSE_TEST_DB=gatehouse_it_oracles npx vitest run --project integration gateway/test/redteam-constraint-oracles.test.ts

import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineKind } from '../src/policy/types.ts';
import { REPO_ROOT, startTestGateway, type TestGateway } from './support/harness.ts';

const GUEST = 'Guest Oracle-Secret-4471';
const CONTACT = 'contact-oracle-secret@example.org';

/** Tables made before the first session, so that the first relation snapshot holds their constraints. */
const SETUP = `
CREATE TABLE clinical.oracle_referrals (
  id          integer PRIMARY KEY,
  patient_mrn text REFERENCES clinical.patients (mrn),
  note        text
);
CREATE TABLE clinical.oracle_bookings (
  id      integer PRIMARY KEY,
  room    integer NOT NULL,
  guest   text,
  contact text,
  EXCLUDE USING btree (guest WITH =),
  EXCLUDE USING btree (room WITH =)
);
INSERT INTO clinical.oracle_bookings VALUES (1, 101, '${GUEST}', '${CONTACT}');
`;

const REGO = `package gatehouse

mask contains {"id": "oracle-writers-patients", "reason": "oracle writers read patients masked", "on": "read", "table": t, "column": column, "strategy": strategy} if {
	member("oracle-writers")
	some t in input.statement.tables_read
	t == "clinical.patients"
	some column, strategy in patient_masks
}

mask contains {"id": "oracle-writers-bookings", "reason": "oracle writers read guests masked", "on": "read", "table": t, "column": column, "strategy": "redact"} if {
	member("oracle-writers")
	some t in input.statement.tables_read
	t == "clinical.oracle_bookings"
	some column in ["guest", "contact"]
}

allow contains {"id": "oracle-writers-read", "reason": "referrals are not sensitive", "on": "read", "table": t} if {
	member("oracle-writers")
	some t in input.statement.tables_read
	t == "clinical.oracle_referrals"
}

allow contains {"id": "oracle-writers-write", "reason": "oracle writers may write", "on": "write", "table": t} if {
	member("oracle-writers")
	some t in input.statement.tables_written
	t in {"clinical.patients", "clinical.oracle_referrals", "clinical.oracle_bookings"}
}
`;

const CEDAR = `@id("oracle-writers-patients")
@reason("oracle writers read patients masked")
@mask("mrn:hash,first_name:redact,last_name:redact,ssn:redact,date_of_birth:fake_date,phone:last4,email:hash,address:null")
permit (principal in Gatehouse::Group::"oracle-writers", action == Gatehouse::Action::"read", resource == Gatehouse::Table::"clinical.patients");

@id("oracle-writers-bookings")
@reason("oracle writers read guests masked")
@mask("guest:redact,contact:redact")
permit (principal in Gatehouse::Group::"oracle-writers", action == Gatehouse::Action::"read", resource == Gatehouse::Table::"clinical.oracle_bookings");

@id("oracle-writers-read")
@reason("referrals are not sensitive")
permit (principal in Gatehouse::Group::"oracle-writers", action == Gatehouse::Action::"read", resource == Gatehouse::Table::"clinical.oracle_referrals");

@id("oracle-writers-write")
@reason("oracle writers may write")
permit (principal in Gatehouse::Group::"oracle-writers", action == Gatehouse::Action::"write", resource is Gatehouse::Table)
when { [Gatehouse::Table::"clinical.patients", Gatehouse::Table::"clinical.oracle_referrals", Gatehouse::Table::"clinical.oracle_bookings"].contains(resource) };
`;

/** The example policies of `engine` with the oracle writers' added. */
function policies(engine: EngineKind): string {
  const dir = mkdtempSync(join(tmpdir(), `gatehouse-oracles-${engine}-`));
  cpSync(join(REPO_ROOT, 'policies', engine), dir, { recursive: true, filter: (src) => !src.endsWith('_test.rego') });
  writeFileSync(join(dir, engine === 'rego' ? 'oracle_writers.rego' : 'oracle_writers.cedar'), engine === 'rego' ? REGO : CEDAR);
  return dir;
}

/** A statement's rows and row count, or its error with every field PostgreSQL (or Gatehouse) sent. */
interface Outcome {
  code: string | null;
  rowCount: number | null;
  rows: unknown[];
  error: Record<string, unknown> | null;
}

async function run(c: pg.Client, sql: string, values?: unknown[]): Promise<Outcome> {
  try {
    const r = await c.query(sql, values);
    return { code: null, rowCount: r.rowCount, rows: r.rows, error: null };
  } catch (e) {
    const err = e as pg.DatabaseError;
    return { code: err.code ?? 'no-sqlstate', rowCount: null, rows: [], error: { ...err, message: err.message } };
  }
}

for (const engine of ['rego', 'cedar'] as const) {
  describe(`existence oracles through constraints under a mask (${engine})`, () => {
    let t: TestGateway;
    let dir: string;
    let direct: pg.Client;
    let writer: pg.Client;
    let seeded: string[];
    let mrn: string;
    const seen: Outcome[] = [];

    const write = async (sql: string, values?: unknown[]): Promise<Outcome> => {
      const o = await run(writer, sql, values);
      seen.push(o);
      return o;
    };

    beforeAll(async () => {
      dir = policies(engine);
      t = await startTestGateway({ engine, policiesDir: dir });
      direct = new pg.Client({ connectionString: t.upstreamUrl });
      await direct.connect();
      await direct.query(SETUP);
      const patients = (await direct.query('SELECT mrn, ssn, email, phone FROM clinical.patients')).rows as Array<Record<string, string>>;
      seeded = [...patients.flatMap((p) => [p['mrn']!, p['ssn']!, p['email']!, p['phone']!]), GUEST, CONTACT];
      mrn = patients[0]!['mrn']!;
      writer = await t.client(await t.token(`oracle-writer-${engine}`, ['oracle-writers']));
    });
    afterAll(async () => {
      await direct?.query('DROP TABLE IF EXISTS clinical.oracle_referrals, clinical.oracle_bookings').catch(() => undefined);
      await direct?.end();
      await t?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('reads are masked (the premise)', async () => {
      const r = await write('SELECT mrn FROM clinical.patients WHERE id = 1');
      expect(r.code).toBeNull();
      expect(r.rows).toEqual([{ mrn: expect.stringMatching(/^h:/) }]);
      expect((await write('SELECT guest FROM clinical.oracle_bookings')).rows).toEqual([{ guest: '***' }]);
    });

    it('INSERT, UPDATE and MERGE assigning a masked unique column are refused (42501) alike for a stored and a new value', async () => {
      for (const value of [mrn, 'MRN-NEVER-STORED-1']) {
        for (const [sql, values] of [
          ["INSERT INTO clinical.patients (id, mrn, first_name, last_name, ssn, date_of_birth, phone, email, address, diagnosis_code) VALUES (9001, $1, 'a', 'b', 'c', date '2000-01-01', 'p', 'e', 'x', 'd')", [value]],
          [`INSERT INTO clinical.patients VALUES (9001, '${value}', 'a', 'b', 'c', date '2000-01-01', 'p', 'e', 'x', 'd')`, undefined],
          [`UPDATE clinical.patients SET mrn = '${value}' WHERE id = 2`, undefined],
          [`MERGE INTO clinical.patients t USING (SELECT 9001 AS id) s ON t.id = s.id WHEN NOT MATCHED THEN INSERT (id, mrn, first_name, last_name, ssn, date_of_birth, phone, email, address, diagnosis_code) VALUES (s.id, '${value}', 'a', 'b', 'c', date '2000-01-01', 'p', 'e', 'x', 'd')`, undefined],
          [`MERGE INTO clinical.patients t USING (SELECT 2 AS id) s ON t.id = s.id WHEN MATCHED THEN UPDATE SET mrn = '${value}'`, undefined],
        ] as Array<[string, unknown[] | undefined]>) {
          const r = await write(sql, values);
          expect.soft(r.code, sql).toBe('42501');
          expect.soft(String(r.error?.['message']), sql).toContain('"mrn"');
          expect.soft(String(r.error?.['message']), sql).toContain('existence oracle');
        }
      }
      const count = await direct.query('SELECT count(*)::int AS n FROM clinical.patients WHERE id = 9001');
      expect(count.rows[0].n).toBe(0);
    });

    it('a masked column without any constraint may still be assigned', async () => {
      const before = (await direct.query('SELECT ssn FROM clinical.patients WHERE id = 3')).rows[0].ssn as string;
      const updated = await write("UPDATE clinical.patients SET ssn = '000-00-0000' WHERE id = 3");
      expect(updated.code, JSON.stringify(updated.error)).toBeNull();
      expect(updated.rowCount).toBe(1);
      await direct.query('UPDATE clinical.patients SET ssn = $1 WHERE id = 3', [before]);
      const inserted = await write("INSERT INTO clinical.oracle_bookings (id, room, contact) VALUES (2, 102, 'someone@example.org')");
      expect(inserted.code, JSON.stringify(inserted.error)).toBeNull();
      expect(inserted.rowCount).toBe(1);
    });

    it('ON CONFLICT without a conflict target, or naming a constraint over a masked column, is refused', async () => {
      for (const sql of [
        'INSERT INTO clinical.patients (id) VALUES (1) ON CONFLICT DO NOTHING',
        'INSERT INTO clinical.patients (id) VALUES (1) ON CONFLICT ON CONSTRAINT patients_mrn_key DO NOTHING',
        'INSERT INTO clinical.oracle_bookings (id, room) VALUES (1, 101) ON CONFLICT DO NOTHING',
      ]) {
        const r = await write(sql);
        expect.soft(r.code, sql).toBe('42501');
        expect.soft(String(r.error?.['message']), sql).toContain('ON CONFLICT');
      }
      // A conflict target of unmasked columns tells nothing about masked values: it runs.
      const ok = await write('INSERT INTO clinical.oracle_bookings (id, room) VALUES (1, 101) ON CONFLICT (id) DO NOTHING');
      expect(ok.code, JSON.stringify(ok.error)).toBeNull();
      expect(ok.rowCount).toBe(0);
    });

    it('a write to another table whose foreign key references a masked column is refused (23503 would tell)', async () => {
      for (const value of [mrn, 'MRN-NEVER-STORED-2']) {
        for (const sql of [`INSERT INTO clinical.oracle_referrals (id, patient_mrn) VALUES (1, '${value}')`, `UPDATE clinical.oracle_referrals SET patient_mrn = '${value}' WHERE id = 1`]) {
          const r = await write(sql);
          expect.soft(r.code, sql).toBe('42501');
          expect.soft(String(r.error?.['message']), sql).toContain('oracle_referrals_patient_mrn_fkey');
        }
      }
      // COPY FROM fills the same columns; refused before it starts (no CopyInResponse).
      const copy = await write('COPY clinical.oracle_referrals (id, patient_mrn) FROM STDIN');
      expect(copy.code).toBe('42501');
      const plain = await write("INSERT INTO clinical.oracle_referrals (id, note) VALUES (1, 'no patient yet')");
      expect(plain.code, JSON.stringify(plain.error)).toBeNull();
    });

    it('assigning a masked column under an exclusion constraint is refused', async () => {
      for (const guess of [GUEST, 'Nobody']) {
        const r = await write('INSERT INTO clinical.oracle_bookings (id, room, guest) VALUES (3, 103, $1)', [guess]);
        expect.soft(r.code).toBe('42501');
        expect.soft(String(r.error?.['message'])).toContain('exclusion constraint');
      }
    });

    it('a constraint error on unmasked columns of a masked table runs, its SQLSTATE kept and its detail withheld', async () => {
      const unique = await write("INSERT INTO clinical.oracle_bookings (id, room) VALUES (1, 150)");
      expect(unique.code).toBe('23505');
      expect(String(unique.error?.['detail'])).toContain('Gatehouse withheld the detail');
      // The same through the extended protocol (bound parameters).
      const bound = await write('INSERT INTO clinical.oracle_bookings (id, room) VALUES ($1, $2)', [1, 151]);
      expect(bound.code).toBe('23505');
      expect(String(bound.error?.['detail'])).toContain('Gatehouse withheld the detail');
      const exclusion = await write('INSERT INTO clinical.oracle_bookings (id, room) VALUES (4, 101)');
      expect(exclusion.code).toBe('23P01');
      expect(String(exclusion.error?.['detail'])).toContain('Gatehouse withheld the detail');
      const notNull = await write('INSERT INTO clinical.oracle_bookings (id, room) VALUES (5, NULL)');
      expect(notNull.code).toBe('23502');
      expect(String(notNull.error?.['detail'])).toContain('Gatehouse withheld the detail');
    });

    it('nothing of a seeded value appears in any field of anything the writer got back', () => {
      expect(seen.length).toBeGreaterThan(20);
      const all = JSON.stringify(seen);
      expect(seeded.filter((v) => all.includes(v))).toEqual([]);
    });
  });
}
