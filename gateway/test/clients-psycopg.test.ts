// psycopg 3 (Python, Debian's python3-psycopg over libpq) through Gatehouse: server-side
// parameters, prepared statements, a binary cursor, libpq pipeline mode and implicit transaction
// blocks. The real client runs against a real gateway and PostgreSQL; its JSON report is checked
// against the database read directly.

import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { startTestGateway, type TestGateway } from './support/harness.ts';
import { runTool } from './support/run-tool.ts';
import { clientGate, CLIENTS_DIR, datesOfBirthVia, last4, reportOf, runsOk, type Patient } from './clients/support.ts';

/** Debian's python3-psycopg installs for the system interpreter, not a pyenv one on PATH. */
const PYTHON = '/usr/bin/python3';
const SCRIPT = join(CLIENTS_DIR, 'psycopg_client.py');

type Row = unknown[];
type Step = { rows: Row[] } | { error: string; sqlstate: string | null };

interface PsycopgReport {
  psycopg: string;
  allowed: Row[];
  masked_param: Row[];
  masked_prepared: Row[];
  prepared_names: string[];
  binary_formats: number[];
  binary_masked: Row[];
  binary_allowed_formats: number[];
  binary_allowed: Row[];
  denied_drop: string | null;
  denied_param: string | null;
  after_denied: number;
  pipeline: Step[];
  pipeline_direct: Step[];
  after_pipeline: number;
  transaction: Array<string | null>;
  named_cursor: Row[];
  named_cursor_masked: unknown[][];
  client_cursor: Row[];
  executemany: Row[][];
}


describe('psycopg 3 through Gatehouse (rego)', () => {
  const gate = clientGate();
  let t: TestGateway;
  let direct: pg.Client;
  let viaNode: pg.Client;
  let report: PsycopgReport;
  let patients: Patient[];
  /** mrn and email as the same gateway hashes them for node-postgres (text format). */
  let hashed: Array<{ mrn: string; email: string }>;
  /** date_of_birth as the same gateway masks it for node-postgres (fake_date), by patient order. */
  let dobs: Array<string | null>;

  beforeAll(async () => {
    await gate.require('psycopg 3 for /usr/bin/python3', () => runsOk(PYTHON, ['-c', 'import psycopg']), 'apt-get install -y python3-psycopg');
    if (gate.missing) return;
    t = await startTestGateway({ engine: 'rego' });
    direct = new pg.Client({ connectionString: t.upstreamUrl });
    await direct.connect();
    const token = await t.token('agent-psycopg', ['agents']);
    viaNode = await t.client(token);
    patients = (
      await direct.query(
        "SELECT id, mrn, first_name, last_name, ssn, phone, email, address, to_char(date_of_birth, 'YYYY-MM-DD') AS dob, length(diagnosis_code) AS dx_len FROM clinical.patients ORDER BY id",
      )
    ).rows;
    hashed = (await viaNode.query('SELECT mrn, email FROM clinical.patients ORDER BY id')).rows;
    dobs = await datesOfBirthVia(viaNode);
    const run = await runTool(PYTHON, [SCRIPT, String(t.port), t.upstreamUrl], { env: { GATEHOUSE_TOKEN: token }, killAfterMs: 90_000 });
    report = reportOf<PsycopgReport>('the psycopg client', run);
  });
  afterAll(async () => {
    await direct?.end();
    await t?.close();
  });

  const visitsTruth = async (): Promise<Row[]> =>
    (await direct.query("SELECT id, patient_id, to_char(visit_date, 'YYYY-MM-DD') AS d FROM clinical.visits WHERE id <= 5 ORDER BY id")).rows.map((r) => [
      r.id,
      r.patient_id,
      r.d,
    ]);

  /** A patient row as psycopg gets it through Gatehouse; hashes come from node-postgres through the same gateway. */
  const maskedRow = (p: Patient): Row => {
    const h = hashed[patients.indexOf(p)]!;
    return [p.id, h.mrn, '***', '***', '***', last4(p.phone), h.email, null, dobs[patients.indexOf(p)]!];
  };

  gate.it('a plain allowed SELECT returns exactly what the database has', async () => {
    expect(report.allowed).toEqual(await visitsTruth());
  });

  gate.it('a masked SELECT with a server-side parameter (%s) is masked', () => {
    expect(report.masked_param).toEqual([maskedRow(patients[2]!)]);
    expect(report.masked_param[0]![1]).toMatch(/^h:[0-9a-f]{16}$/);
  });

  gate.it('prepare=True: the named statement is masked on every execution', () => {
    expect(report.masked_prepared).toEqual(patients.slice(0, 8).map(maskedRow));
    // psycopg really prepared it on the server (under Gatehouse's own name for it). The session's prepared
    // lock blocks (`gatehouse_<session>_lock<n>`, pg/lock-statements.ts) are there too and are left out.
    const clients = report.prepared_names.filter((n: string) => !/_lock\d+$/.test(n));
    expect(clients, JSON.stringify(report.prepared_names)).toHaveLength(1);
    expect(clients[0]).toMatch(/^gatehouse_/);
  });

  gate.it('a binary cursor: binary results, text and date of birth masked, int4 exact, a computed int over an unmasked column exact', async () => {
    expect(report.binary_formats).toEqual([1, 1, 1, 1, 1, 1, 1]);
    const expected = patients.slice(0, 4).map((p) => [p.id, '***', last4(p.phone), maskedRow(p)[6], null, maskedRow(p)[8], p.dx_len]);
    expect(report.binary_masked).toEqual(expected);
    expect(report.binary_allowed_formats).toEqual([1, 1, 1]);
    expect(report.binary_allowed).toEqual(await visitsTruth());
  });

  gate.it('denied statements raise psycopg errors with SQLSTATE 42501, and the connection goes on', () => {
    expect(report.denied_drop).toBe('42501');
    expect(report.denied_param).toBe('42501');
    expect(report.after_denied).toBe(42);
  });

  gate.it('a pipeline with a denied statement: earlier results masked, the rest fail exactly as PostgreSQL fails them', () => {
    const p2 = patients[1]!;
    expect(report.pipeline_direct).toEqual([
      { error: 'UndefinedTable', sqlstate: '42P01' },
      { rows: [[1]] },
      { rows: [[p2.ssn, p2.phone]] },
      { error: 'ProgrammingError', sqlstate: null },
      { error: 'ProgrammingError', sqlstate: null },
    ]);
    expect(report.pipeline).toEqual([
      { error: 'InsufficientPrivilege', sqlstate: '42501' },
      { rows: [[1]] },
      { rows: [['***', last4(p2.phone)]] },
      { error: 'ProgrammingError', sqlstate: null },
      { error: 'ProgrammingError', sqlstate: null },
    ]);
    expect(report.after_pipeline).toBe(7);
  });

  gate.it('autocommit off: a denial aborts the implicit transaction (25P02) until rollback', () => {
    expect(report.transaction).toEqual([null, 'INTRANS', '42501', 'INERROR', '25P02', 'IDLE', '***']);
  });

  gate.it('a server-side cursor (DECLARE/FETCH) reads an allowed table, and a masked one masked', async () => {
    expect(report.named_cursor).toEqual((await visitsTruth()).slice(0, 5));
    expect(report.named_cursor_masked).toEqual(patients.slice(0, 3).map((p) => [p.id, '***']));
  });

  gate.it('ClientCursor (values inlined, simple Query) and executemany(returning=True) are masked', () => {
    const p = patients.slice(0, 3);
    expect(report.client_cursor).toEqual([[2, '***', last4(p[1]!.phone)]]);
    expect(report.executemany).toEqual(p.map((x) => [[x.id, '***']]));
  });

  gate.it('no real identifier appears anywhere in what psycopg received through Gatehouse', () => {
    const { pipeline_direct: _direct, ...viaGatehouse } = report;
    const raw = JSON.stringify(viaGatehouse);
    for (const p of patients) {
      for (const secret of [p.ssn, p.first_name, p.last_name, p.email, p.address, p.mrn, p.phone]) expect(raw).not.toContain(secret);
    }
  });
});
