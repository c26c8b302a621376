// psql, the client people actually type into, through Gatehouse: its catalog queries for \d, a
// large result, \copy out and in, a COPY refused under masking, and a denial shown with its SQLSTATE.

import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './support/harness.ts';
import { psqlDirect, psqlVia } from './support/run-tool.ts';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const lines = (b: Buffer): string[] => b.toString('utf8').split('\n').filter((l) => l !== '');

describe('psql through Gatehouse', () => {
  let t: TestGateway;
  let direct: pg.Client;
  let agentToken: string;
  let breakglassToken: string;
  let benchToken: string;

  beforeAll(async () => {
    t = await startTestGateway();
    direct = new pg.Client({ connectionString: t.upstreamUrl });
    await direct.connect();
    await direct.query('DROP TABLE IF EXISTS public.pgbench_it_copy');
    await direct.query('CREATE TABLE public.pgbench_it_copy (tid int, bid int, aid int, delta int, mtime timestamp, filler char(22))');
    agentToken = await t.token('agent-psql', ['agents']);
    breakglassToken = await t.token('dr-psql', ['breakglass']);
    benchToken = await t.token('bench-psql', ['bench']);
  });
  afterAll(async () => {
    await direct?.query('DROP TABLE IF EXISTS public.pgbench_it_copy');
    await direct?.end();
    await t?.close();
  });

  it('\\d clinical.patients describes the table (psql catalog queries are allowed)', async () => {
    const r = await psqlVia(t.port, agentToken, ['-c', '\\d clinical.patients']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = r.stdout.toString('utf8');
    expect(out).toContain('Table "clinical.patients"');
    for (const col of ['id', 'mrn', 'first_name', 'last_name', 'ssn', 'date_of_birth', 'phone', 'email', 'address', 'diagnosis_code']) {
      expect(out).toMatch(new RegExp(`^\\s*${col}\\s*\\|`, 'm'));
    }
    expect(out).toContain('"patients_pkey" PRIMARY KEY');
  });

  it('streams a large result identical to a direct query', async () => {
    const sql = 'SELECT v.*, g FROM clinical.visits v, generate_series(1, 200) g ORDER BY g, v.id';
    const via = await psqlVia(t.port, breakglassToken, ['-At', '-c', sql]);
    const truth = await psqlDirect(t.upstreamUrl, ['-At', '-c', sql]);
    expect(via.stderr).toBe('');
    expect(via.code).toBe(0);
    const expected = (await direct.query('SELECT count(*)::int AS n FROM clinical.visits')).rows[0].n * 200;
    expect(expected).toBeGreaterThan(10_000);
    expect(lines(via.stdout)).toHaveLength(expected);
    expect(sha256(via.stdout)).toBe(sha256(truth.stdout));
  });

  it('\\copy TO STDOUT for the break-glass group gives the same bytes as a direct \\copy', async () => {
    const via = await psqlVia(t.port, breakglassToken, ['-c', '\\copy clinical.visits TO STDOUT']);
    const truth = await psqlDirect(t.upstreamUrl, ['-c', '\\copy clinical.visits TO STDOUT']);
    expect(via.stderr).toBe('');
    expect(via.code).toBe(0);
    expect(truth.stdout.length).toBeGreaterThan(0);
    expect(via.stdout.equals(truth.stdout)).toBe(true);
  });

  it('\\copy FROM a file writes the rows into a bench table', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-psql-copy-'));
    const file = join(dir, 'history.tsv');
    const rows = Array.from({ length: 500 }, (_, i) => `${i + 1}\t${(i % 3) + 1}\t${i * 7}\t${i - 250}\t2024-01-02 03:04:05\t\\N`);
    writeFileSync(file, rows.join('\n') + '\n');
    await direct.query('TRUNCATE public.pgbench_it_copy');

    const r = await psqlVia(t.port, benchToken, ['-c', `\\copy public.pgbench_it_copy FROM '${file}'`]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.toString('utf8').trim()).toBe('COPY 500');

    const check = await direct.query(
      'SELECT count(*)::int AS n, sum(tid)::int AS tids, sum(delta)::int AS deltas, count(filler)::int AS fillers FROM public.pgbench_it_copy',
    );
    expect(check.rows[0]).toEqual({ n: 500, tids: (500 * 501) / 2, deltas: rows.reduce((s, _, i) => s + i - 250, 0), fillers: 0 });
  });

  it("copies an agent's \\copy of masked patients with the masks applied, and no identifier leaves", async () => {
    const r = await psqlVia(t.port, agentToken, ['-c', '\\copy clinical.patients TO STDOUT']);
    expect(r.code).toBe(0);
    const lines = r.stdout.toString('utf8').trim().split('\n');
    const count = (await direct.query('SELECT count(*)::int AS n FROM clinical.patients')).rows[0].n as number;
    expect(lines).toHaveLength(count);
    const ssns = (await direct.query('SELECT ssn FROM clinical.patients')).rows.map((row: { ssn: string }) => row.ssn);
    expect(ssns.length).toBeGreaterThan(0);
    const everything = r.stdout.toString('utf8') + r.stderr;
    for (const ssn of ssns) expect(everything).not.toContain(ssn);
    expect(everything).toContain('\t***\t'); // redacted columns, tab-separated
  });

  it('copies unmasked columns of the masked table exactly (\\copy (query) and \\copy t (cols))', async () => {
    const truth = (await direct.query('SELECT id, diagnosis_code FROM clinical.patients ORDER BY id')).rows.map((row) => `${row.id}\t${row.diagnosis_code}`).join('\n');
    const viaQuery = await psqlVia(t.port, agentToken, ['-c', '\\copy (SELECT id, diagnosis_code FROM clinical.patients ORDER BY id) TO STDOUT']);
    expect(viaQuery.code).toBe(0);
    expect(viaQuery.stdout.toString('utf8').trim()).toBe(truth);
    const viaColumns = await psqlVia(t.port, agentToken, ['-c', '\\copy clinical.patients (id, diagnosis_code) TO STDOUT']);
    expect(viaColumns.code).toBe(0);
    expect(viaColumns.stdout.toString('utf8').trim().split('\n').sort()).toEqual(truth.split('\n').sort());
    // Neither copy read a masked column, so each is audited as allowed, with no masks.
    const copies = t.audit().filter((r) => r.type === 'statement' && r.identity?.subject === 'agent-psql' && /^COPY .*diagnosis_code.* TO STDOUT/.test(r.statement));
    expect(copies).toHaveLength(2);
    for (const r of copies) expect(r.type === 'statement' ? [r.decision, r.masks] : null).toEqual(['allow', []]);
  });

  it('shows a denied statement as an ERROR with SQLSTATE 42501 in verbose mode', async () => {
    const r = await psqlVia(t.port, agentToken, ['-c', '\\set VERBOSITY verbose', '-c', 'DROP TABLE clinical.visits']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/ERROR:\s+42501:/);
    expect((await direct.query("SELECT to_regclass('clinical.visits') AS t")).rows[0].t).toBe('clinical.visits');
  });
});
