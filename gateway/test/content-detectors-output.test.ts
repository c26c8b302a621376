// Content detectors on the way out, through Gatehouse to the real PostgreSQL, with both engines:
// a `support` identity reads clinical.visits, whose free-text notes the example policies ask to
// scan (policies/rego/clinical.rego `clinical-notes-detect`, policies/cedar/clinical.cedar
// @detect). Every path a note's text can take back to the client is tried: rows in the simple and
// the extended protocol (text and binary), computed columns, JSON documents, COPY TO STDOUT, and an
// error message that quotes the value. None may carry the seeded identifiers; each replacement is
// counted in the statement's audit outcome, never the value.

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../src/audit/types.ts';
import { startTestGateway, type TestGateway } from './support/harness.ts';
import { psqlVia } from './support/run-tool.ts';

const VISIT_ID = 990_001;
const SSN = '219-09-9999';
const PHONE = '(415) 555-0142';
const EMAIL = 'jane.roe@example.org';
const NOTE = `Callback ${PHONE}; SSN ${SSN}; wrote to ${EMAIL} about the results.`;
const SECRETS = [SSN, PHONE, EMAIL, '2190999', '4155550142', 'jane.roe'];

function expectClean(text: string): void {
  for (const secret of SECRETS) expect(text, `leaked ${secret}`).not.toContain(secret);
}

/** Adds the visit whose note holds identifiers (the gateway's start re-seeds the clinic, so after it). */
async function seedNote(upstream: string): Promise<void> {
  const db = new pg.Client({ connectionString: upstream });
  await db.connect();
  try {
    await db.query('DELETE FROM clinical.visits WHERE id = $1', [VISIT_ID]);
    await db.query(
      `INSERT INTO clinical.visits (id, patient_id, visit_date, reason, notes)
       SELECT $1, min(id), date '2026-01-02', 'follow-up', $2 FROM clinical.patients`,
      [VISIT_ID, NOTE],
    );
  } finally {
    await db.end();
  }
}

describe.each(['rego', 'cedar'] as const)('content detectors on output (%s)', (engine) => {
  let t: TestGateway;
  let support: pg.Client;
  let token: string;

  beforeAll(async () => {
    t = await startTestGateway({ engine });
    await seedNote(t.upstreamUrl);
    token = await t.token('support-desk@example.com', ['agents', 'support']);
    support = await t.client(token);
  });
  afterAll(async () => t.close());

  it('replaces identifiers in the note and keeps the rest of it (simple protocol)', async () => {
    const { rows } = await support.query(`SELECT id, notes FROM clinical.visits WHERE id = ${VISIT_ID}`);
    expect(rows).toHaveLength(1);
    const notes = String(rows[0].notes);
    expectClean(notes);
    expect(notes).toContain('[SSN]');
    expect(notes).toContain('[PHONE]');
    expect(notes).toContain('[EMAIL]');
    expect(notes).toContain('about the results.');
  });

  it('scans the extended protocol, binary results, computed columns and JSON', async () => {
    const extended = await support.query({ text: 'SELECT notes FROM clinical.visits WHERE id = $1', values: [VISIT_ID] });
    expectClean(JSON.stringify(extended.rows));
    // node-postgres asks for binary results with `binary: true` (its types omit the option).
    const binaryQuery = { text: 'SELECT notes, upper(notes) AS shout FROM clinical.visits WHERE id = $1', values: [VISIT_ID], binary: true };
    const binary = await support.query(binaryQuery as pg.QueryConfig);
    expectClean(JSON.stringify(binary.rows.map((r) => [String(r.notes), String(r.shout)])));
    const computed = await support.query(
      `SELECT notes || '' AS n, row_to_json(v) AS j, to_jsonb(v) AS jb, v::text AS t FROM clinical.visits v WHERE id = ${VISIT_ID}`,
    );
    expectClean(JSON.stringify(computed.rows));
    expect(JSON.stringify(computed.rows)).toContain('[SSN]');
  });

  it('scans COPY TO STDOUT and error messages that quote a note', async () => {
    const copy = await psqlVia(t.port, token, ['-c', `\\copy (SELECT notes FROM clinical.visits WHERE id = ${VISIT_ID}) TO STDOUT`]);
    expect(copy.code, copy.stderr).toBe(0);
    expectClean(copy.stdout + copy.stderr);
    expect(String(copy.stdout)).toContain('[PHONE]');

    const failed = await support.query(`SELECT notes::int FROM clinical.visits WHERE id = ${VISIT_ID}`).then(
      () => null,
      (e: pg.DatabaseError) => e,
    );
    expect(failed?.code).toBe('22P02');
    expectClean(`${failed?.message} ${failed?.detail ?? ''}`);
  });

  it('counts what it replaced in the audit outcome, never the values', async () => {
    await support.query(`SELECT notes FROM clinical.visits WHERE id = ${VISIT_ID} /* audit-count */`);
    type Outcome = Extract<AuditRecord, { type: 'outcome' }>;
    const counted = (rs: AuditRecord[]): Outcome[] => rs.filter((r): r is Outcome => r.type === 'outcome' && r.detected !== undefined);
    const records = await t.auditUntil((rs) => counted(rs).length > 0);
    expectClean(JSON.stringify(records));
    expect(counted(records).length).toBeGreaterThan(0);
    expect(counted(records).at(-1)?.detected).toMatchObject({ ssn: 1, phone: 1, email: 1 });
  });

  it('scans a 5 MB note in turns: it comes back scanned, and another session is served meanwhile', async () => {
    const db = new pg.Client({ connectionString: t.upstreamUrl });
    await db.connect();
    const BIG = VISIT_ID + 1;
    const chunk = `${'routine follow-up, no change. '.repeat(200)}${NOTE} `;
    try {
      await db.query('DELETE FROM clinical.visits WHERE id = $1', [BIG]);
      await db.query(
        `INSERT INTO clinical.visits (id, patient_id, visit_date, reason, notes)
         SELECT $1, min(id), date '2026-01-03', 'long', repeat($2::text, $3) FROM clinical.patients`,
        [BIG, chunk, Math.ceil((5 * 1024 * 1024) / chunk.length)],
      );
      const other = await t.client(await t.token('other-session@example.com', ['agents']));
      const order: string[] = [];
      const big = support.query(`SELECT notes FROM clinical.visits WHERE id = ${BIG}`).then((r) => {
        order.push('big');
        return r;
      });
      // Another session's statements, one after another, until the big one is in.
      let served = 0;
      while (!order.includes('big') && served < 500) {
        await other.query('SELECT 1');
        served++;
        if (served === 1) order.push('other');
      }
      const { rows } = await big;
      expect(order[0]).toBe('other');
      expect(String(rows[0].notes).length).toBeGreaterThan(5_000_000);
      expectClean(String(rows[0].notes));
      expect(String(rows[0].notes)).toContain('[SSN]');
    } finally {
      await db.query('DELETE FROM clinical.visits WHERE id = $1', [BIG]);
      await db.end();
    }
  });

  it('leaves an identity without the support rule untouched by detectors (masks still apply)', async () => {
    const agent = await t.client(await t.token('agent@example.com', ['agents']));
    const { rows } = await agent.query(`SELECT notes FROM clinical.visits WHERE id = ${VISIT_ID}`);
    expect(String(rows[0].notes)).toBe(NOTE);
  });
});
