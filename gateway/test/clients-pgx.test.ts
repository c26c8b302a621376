// pgx (Go, github.com/jackc/pgx/v5) through Gatehouse: only the extended protocol, statements
// prepared with Describe and cached, BINARY results for the types pgx knows (int4, date), batches
// pipelined with one Sync. The real client runs against a real gateway and PostgreSQL; its JSON
// report is checked against the database read directly.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { startTestGateway, type TestGateway } from './support/harness.ts';
import { runTool } from './support/run-tool.ts';
import { clientGate, CLIENTS_DIR, datesOfBirthVia, last4, reportOf, runsOk, type Patient } from './clients/support.ts';

interface Outcome {
  ok: boolean;
  code?: string;
  rows?: unknown[][];
  error?: string;
  tag?: string;
}

interface PgxReport {
  allowed: Array<{ id: number; patient_id: number; visit_date: string }>;
  allowed_formats: number[];
  raw_binary: string[][];
  masked_scan: Array<Record<string, unknown>>;
  masked_formats: number[];
  denied_code: string;
  after_denied: number;
  batch: Outcome[];
  batch_direct: Outcome[];
  exec_batch: Outcome[];
  exec_batch_direct: Outcome[];
  cached_batch: Outcome[];
  tx_codes: string[];
  prepared_after: { ssn: string; phone: string };
  simple_protocol: unknown[][];
}

/** pgx also reports the date of birth as days since 2000-01-01, as its binary form carries it. */
interface PgxPatient extends Patient {
  dob_days: number;
}

const PGX_DIR = join(CLIENTS_DIR, 'pgx');
const int4Hex = (n: number): string => (n >>> 0).toString(16).padStart(8, '0');

for (const engine of ['rego', 'cedar'] as const) {
  describe(`pgx through Gatehouse (${engine})`, () => {
    const gate = clientGate();
    let t: TestGateway;
    let direct: pg.Client;
    let viaNode: pg.Client;
    let buildDir: string;
    let report: PgxReport;
    let patients: PgxPatient[];
    /** date_of_birth as the gateway masks it for an agent (fake_date), by patient order. */
    let dobs: Array<string | null>;

    beforeAll(async () => {
      await gate.require('Go (to build the pgx client)', () => runsOk('go', ['version']), 'install Go, then `cd gateway/test/clients/pgx && go mod download`');
      if (gate.missing) return;
      buildDir = mkdtempSync(join(tmpdir(), 'gatehouse-pgx-'));
      const binary = join(buildDir, 'pgx-client');
      const build = await runTool('go', ['build', '-o', binary, '.'], { cwd: PGX_DIR, killAfterMs: 300_000 });
      await gate.require(
        `The pgx client (go build in gateway/test/clients/pgx exited ${build.code}: ${build.stderr.trim().split('\n').slice(-3).join(' | ')}), i.e. its Go modules`,
        async () => build.code === 0,
        '`cd gateway/test/clients/pgx && go mod download` (needs the Go module proxy once)',
      );
      if (gate.missing) return;
      t = await startTestGateway({ engine });
      direct = new pg.Client({ connectionString: t.upstreamUrl });
      await direct.connect();
      const token = await t.token('agent-pgx', ['agents']);
      viaNode = await t.client(token);
      patients = (
        await direct.query(
          `SELECT id, mrn, first_name, last_name, ssn, phone, email, address, to_char(date_of_birth, 'YYYY-MM-DD') AS dob,
                  (date_of_birth - DATE '2000-01-01') AS dob_days, length(diagnosis_code) AS dx_len
             FROM clinical.patients ORDER BY id`,
        )
      ).rows;
      dobs = await datesOfBirthVia(viaNode);
      const run = await runTool(binary, [String(t.port), t.upstreamUrl], { env: { GATEHOUSE_TOKEN: token }, killAfterMs: 90_000 });
      report = reportOf<PgxReport>('the pgx client', run);
    });
    afterAll(async () => {
      await direct?.end();
      await t?.close();
      if (buildDir) rmSync(buildDir, { recursive: true, force: true });
    });

    gate.it('an allowed read of int4 and date columns, in binary, round-trips exactly', async () => {
      const truth = await direct.query("SELECT id, patient_id, to_char(visit_date, 'YYYY-MM-DD') AS visit_date FROM clinical.visits WHERE id <= 5 ORDER BY id");
      expect(report.allowed).toEqual(truth.rows);
      // pgx asked for binary int4 and date: the RowDescription it got back says so.
      expect(report.allowed_formats).toEqual([1, 1, 1]);
    });

    gate.it('raw binary DataRows of a masked table: int4 untouched, date and text masked, a computed int over an unmasked column exact', () => {
      const daysHex = (d: string | null): string => (d === null ? 'NULL' : int4Hex((Date.parse(`${d}T00:00:00Z`) - Date.parse('2000-01-01T00:00:00Z')) / 86_400_000));
      expect(report.raw_binary).toEqual(
        patients.slice(0, 3).map((p, i) => [int4Hex(p.id), daysHex(dobs[i]!), Buffer.from('***').toString('hex'), int4Hex(p.dx_len)]),
      );
      // The date of birth is not the real one (fake_date).
      expect(report.raw_binary.map((r) => r[1])).not.toEqual(patients.slice(0, 3).map((p) => int4Hex(p.dob_days)));
    });

    gate.it('QueryRow.Scan of a cached prepared statement is masked on all ten executions', async () => {
      expect(report.masked_scan).toHaveLength(10);
      // The same gateway masks the same values identically whatever the client and the format.
      const viaText = await viaNode.query('SELECT id, mrn, email FROM clinical.patients WHERE id <= 10 ORDER BY id');
      report.masked_scan.forEach((row, i) => {
        const p = patients[i]!;
        expect(row).toEqual({
          id: p.id,
          mrn: viaText.rows[i].mrn,
          first_name: '***',
          last_name: '***',
          ssn: '***',
          phone: last4(p.phone),
          email: viaText.rows[i].email,
          address: null,
          date_of_birth: dobs[i],
          ssn_len: p.dx_len, // length(diagnosis_code): computed on an unmasked column, so exact
        });
        expect(row['email']).toMatch(/^h:[0-9a-f]{16}$/);
        expect(row['mrn']).toMatch(/^h:[0-9a-f]{16}$/);
      });
      // int4 and date in binary, the rest (text) in text format.
      expect(report.masked_formats).toEqual([1, 0, 0, 0, 0, 0, 0, 0, 1, 1]);
    });

    gate.it('no real identifier appears anywhere in what pgx received through Gatehouse', () => {
      const { batch_direct: _a, exec_batch_direct: _b, ...viaGatehouse } = report;
      const raw = JSON.stringify(viaGatehouse);
      for (const p of patients) {
        for (const secret of [p.ssn, p.first_name, p.last_name, p.email, p.address, p.mrn]) expect(raw).not.toContain(secret);
      }
    });

    gate.it('a denied statement is a *pgconn.PgError with SQLSTATE 42501, and the connection goes on', () => {
      expect(report.denied_code).toBe('42501');
      expect(report.after_denied).toBe(42);
      expect(report.prepared_after).toEqual({ ssn: '***', phone: last4(patients[1]!.phone) });
    });

    // Each batch is: allowed visits row, masked patient row, [denied], masked patient row, allowed expression.
    const outcomes = (os: Outcome[]): Array<string | unknown[][] | undefined> => os.map((o) => (o.ok ? o.rows : o.code));

    gate.it('a batch of prepared (cached) statements: Bind/Execute only, one Sync, each result right and masked', async () => {
      const visit = (await direct.query("SELECT id, to_char(visit_date, 'YYYY-MM-DD') AS d FROM clinical.visits WHERE id = 2")).rows[0];
      const p4 = patients[3]!;
      // `diagnosis_code IS NOT NULL` is computed on an unmasked column: exact, although the statement reads masked ones.
      expect(outcomes(report.cached_batch)).toEqual([[[visit.id, visit.d]], [[4, '***', last4(p4.phone), dobs[3]]], [[5, '***', true]], [[42]]]);
    });

    gate.it('a batch with a denied statement, default (cache) mode: fails at prepare, exactly as PostgreSQL fails it', () => {
      // Straight to the database, a statement failing at Parse (42P01) stands in the denied one's place.
      expect(outcomes(report.batch_direct)).toEqual(Array(6).fill('42P01'));
      expect(outcomes(report.batch)).toEqual(Array(6).fill('42501'));
    });

    gate.it('a batch with a denied statement, exec mode (one pipeline, one Sync): earlier results arrive masked, the rest fail like PostgreSQL', async () => {
      const visit = (await direct.query("SELECT id, to_char(visit_date, 'YYYY-MM-DD') AS d FROM clinical.visits WHERE id = 2")).rows[0];
      const p4 = patients[3]!;
      expect(outcomes(report.exec_batch_direct)).toEqual([[[visit.id, visit.d]], [[4, p4.ssn, p4.phone, p4.dob]], '42P01', '42P01', '42P01', '42P01']);
      expect(outcomes(report.exec_batch)).toEqual([[[visit.id, visit.d]], [[4, '***', last4(p4.phone), dobs[3]]], '42501', '42501', '42501', '42501']);
    });

    gate.it("pgx's simple-protocol mode (a simple Query, values interpolated by pgx) is masked too", () => {
      expect(report.simple_protocol).toEqual(patients.slice(0, 3).map((p, i) => [p.id, '***', last4(p.phone), dobs[i]]));
    });

    gate.it('a denial inside a transaction aborts it until ROLLBACK (25P02), like a PostgreSQL error', () => {
      expect(report.tx_codes).toEqual(['', '42501', '25P02', '']);
    });
  });
}
