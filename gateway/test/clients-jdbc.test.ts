// pgjdbc (Java, Debian's libpostgresql-jdbc-java) through Gatehouse: a PreparedStatement that
// switches from the unnamed statement to a named server-side one after prepareThreshold and then
// to binary results, setFetchSize paging through a portal inside a transaction, and denials as
// SQLExceptions. The real driver runs against a real gateway and PostgreSQL; its JSON report is
// checked against the database read directly.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { startTestGateway, type TestGateway } from './support/harness.ts';
import { runTool } from './support/run-tool.ts';
import { clientGate, CLIENTS_DIR, datesOfBirthVia, last4, reportOf, runsOk } from './clients/support.ts';

const JDBC_JAR = '/usr/share/java/postgresql.jar';
const PROGRAM = join(CLIENTS_DIR, 'JdbcClient.java');

type Row = unknown[];

interface JdbcReport {
  driver: string;
  masked: Row[];
  server_prepared: boolean[];
  masked_formats: number[][];
  allowed: Row[];
  allowed_formats: number[][];
  denied_drop: string | null;
  denied_prepared: string | null;
  after_denied: number;
  fetch_masked: Row[][];
  fetch_masked_formats: number[][];
  fetch_allowed: Row[][];
  fetch_allowed_formats: number[][];
  transaction: Array<string | null>;
}

interface Patient {
  id: number;
  ssn: string;
  first_name: string;
  last_name: string;
  phone: string;
  email: string;
  address: string;
  mrn: string;
  dob: string;  /** length(diagnosis_code): a column computed on unmasked data, exact through Gatehouse. */
  dx_len: number;
}

describe('pgjdbc through Gatehouse (rego)', () => {
  const gate = clientGate();
  let t: TestGateway;
  let direct: pg.Client;
  let report: JdbcReport;
  let patients: Patient[];
  let hashed: Array<{ mrn: string; email: string }>;
  /** date_of_birth as the same gateway masks it for node-postgres (fake_date), by patient order. */
  let dobs: Array<string | null>;

  beforeAll(async () => {
    await gate.require('A Java runtime (java 11+)', () => runsOk('java', ['-version']), 'apt-get install -y default-jdk-headless');
    await gate.require(`The PostgreSQL JDBC driver (${JDBC_JAR})`, async () => existsSync(JDBC_JAR), 'apt-get install -y libpostgresql-jdbc-java');
    if (gate.missing) return;
    t = await startTestGateway({ engine: 'rego' });
    direct = new pg.Client({ connectionString: t.upstreamUrl });
    await direct.connect();
    const token = await t.token('agent-jdbc', ['agents']);
    const viaNode = await t.client(token);
    patients = (
      await direct.query(
        "SELECT id, ssn, first_name, last_name, phone, email, address, mrn, to_char(date_of_birth, 'YYYY-MM-DD') AS dob, length(diagnosis_code) AS dx_len FROM clinical.patients ORDER BY id",
      )
    ).rows;
    hashed = (await viaNode.query('SELECT mrn, email FROM clinical.patients ORDER BY id')).rows;
    dobs = await datesOfBirthVia(viaNode);
    const run = await runTool('java', ['-cp', JDBC_JAR, PROGRAM, String(t.port)], { env: { GATEHOUSE_TOKEN: token }, killAfterMs: 90_000 });
    report = reportOf<JdbcReport>('the JDBC client', run);
  });
  afterAll(async () => {
    await direct?.end();
    await t?.close();
  });

  const visits = async (): Promise<Row[]> =>
    (await direct.query("SELECT id, patient_id, to_char(visit_date, 'YYYY-MM-DD') AS d FROM clinical.visits WHERE id <= 10 ORDER BY id")).rows.map((r) => [
      r.id,
      r.patient_id,
      r.d,
    ]);

  gate.it('a PreparedStatement executed 10 times is masked every time, before and after it goes server-side and binary', () => {
    // pgjdbc's own account: server-side prepare from the 4th execution on...
    expect(report.server_prepared).toEqual([false, false, false, true, true, true, true, true, true, true]);
    // ...and binary int4/date/int results once the named statement has been described.
    expect(report.masked_formats.slice(0, 5)).toEqual(Array(5).fill(Array(10).fill(0)));
    expect(report.masked_formats.slice(5)).toEqual(Array(5).fill([1, 0, 0, 0, 0, 0, 0, 0, 1, 1]));
    expect(report.masked).toEqual(
      patients.slice(0, 10).map((p, i) => [p.id, hashed[i]!.mrn, '***', '***', '***', last4(p.phone), hashed[i]!.email, null, dobs[i]!, p.dx_len]),
    );
    for (const h of hashed.slice(0, 10)) expect(h.mrn).toMatch(/^h:[0-9a-f]{16}$/);
  });

  gate.it('an allowed PreparedStatement of int4 and date columns round-trips exactly, text then binary', async () => {
    expect(report.allowed).toEqual(await visits());
    expect(report.allowed_formats.slice(5)).toEqual(Array(5).fill([1, 1, 1]));
  });

  gate.it('setFetchSize in a transaction: the portal is read in pages, every page masked, text and binary', async () => {
    const truth = await visits();
    expect(report.fetch_masked).toEqual(Array(7).fill(patients.slice(0, 10).map((p, i) => [p.id, '***', last4(p.phone), dobs[i]!])));
    expect(report.fetch_allowed).toEqual(Array(7).fill(truth));
    // The later runs were a named statement with binary int4/date results.
    expect(report.fetch_masked_formats.at(-1)).toEqual([1, 0, 0, 1]);
    expect(report.fetch_allowed_formats.at(-1)).toEqual([1, 1, 1]);
    // The rows really came through a portal read with a row limit (PortalSuspended between pages):
    // 10 rows four at a time is two suspended pages per run, 14 runs.
    const suspended = (rs: ReturnType<TestGateway['audit']>) =>
      rs.filter((r) => r.type === 'outcome' && r.outcome.status === 'ok' && r.outcome.command_tag === 'SUSPENDED');
    expect(suspended(await t.auditUntil((rs) => suspended(rs).length >= 28)).length).toBeGreaterThanOrEqual(28);
  });

  gate.it('denied statements are SQLExceptions with SQLSTATE 42501, and the connection goes on', () => {
    expect(report.denied_drop).toBe('42501');
    expect(report.denied_prepared).toBe('42501');
    expect(report.after_denied).toBe(42);
  });

  gate.it('a denial inside a transaction aborts it (25P02) until rollback', () => {
    expect(report.transaction).toEqual([null, '42501', '25P02', null, '***']);
  });

  gate.it('no real identifier appears anywhere in what the driver received', () => {
    const raw = JSON.stringify(report);
    for (const p of patients) {
      for (const secret of [p.ssn, p.first_name, p.last_name, p.email, p.address, p.mrn, p.phone]) expect(raw).not.toContain(secret);
    }
  });
});
