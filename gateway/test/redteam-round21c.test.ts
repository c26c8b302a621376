// Red-team round 21c: the audit evidence (issue 7, and issue 6's "no PHI in the log"). Real Gatehouse, real
// PostgreSQL, real clients, the real audit file and the real `gatehouse audit verify|disclosures` and
// `gatehouse replay` processes; both engines for what goes through a gateway. Each test asserts the SECURE
// behaviour; a finding left open is `it.fails` (it flips when fixed).
//
// Findings:
// R21c-1 (medium, FIXED): comments were written to the log as sent. PostgreSQL's normalization replaces
//   constants and keeps comments, so `SELECT ... WHERE id = 7 /* Jane Doe, SSN 123-45-6789 */` (agents annotate
//   their SQL) put the name and SSN in `statement`, `input.statement.text`, `forwarded` and the recording.
//   Fixed (audit/redact.ts): comment tokens are emptied (`/* */`, `--`) with the left-over literals.
// R21c-2 (medium, FIXED): error messages had each "..." pair blanked, but PostgreSQL quotes a value without
//   escaping its own double quotes: `'{"patient":"Jane Doe"}'::integer` gave `... "?"patient"?"Jane Doe"?"` in
//   the outcome, and a parser error at a string token with quotes inside left its middle in the statement's
//   `reason`. Fixed (audit/redact.ts redactMessage): everything from the first double quote to the last is "?".
// R21c-3 (low, FIXED; CI passing a bad log): `gatehouse audit verify` of an emptied log (0 bytes, or only the
//   zero tail) said OK and exited 0, with or without --key. Fixed (audit/verify.ts): no record is `unprotected`
//   (incomplete, exit 3), as an empty audit table already was.
// R21c-4 (low, FIXED): a fast-path FunctionCall ('F') was refused (0A000) with no audit record: the
//   attempt left no trace. (Also: Gatehouse answered it as an extended message, waiting for a Sync before
//   ReadyForQuery; PostgreSQL sends ReadyForQuery at once, so libpq's PQfn/lo_* hung instead of failing.)
//   Fixed (pg/fast-path-call.ts): a `statement` record (text `<fast-path function call: oid N>`, deny,
//   policy gatehouse.fast_path) and a refused outcome, then ErrorResponse + ReadyForQuery at once.
// R21c-5 (medium, FIXED; accounting of disclosures): a window function over values kept the subject list of
//   the rows returned: `SELECT id, lead(diagnosis_code) OVER (ORDER BY id) ... LIMIT 1` showed patient B's
//   diagnosis in patient A's row, listed only A, and `audit disclosures --subject B` had nothing (not even
//   possible). Fixed (enforce/aggregate-calls.ts callsWindowOverValues, used by subject-statement-plan.ts and
//   phi-references.ts for derived tables): such statements are `unknown` (possible for every patient);
//   row_number(), rank() and other windows without arguments keep the list.
// R21c-6 (low, FIXED): the log's last line is a checkpoint nothing chains to; its `time`, or a field added to
//   it, could be edited and verify still exited 0. Fixed (audit/verify.ts): a checkpoint line must hold exactly
//   the fields the gateway writes and the signed time (`edited`, exit 1).
//
// Held (tests below, both engines unless offline):
// - No PHI in the log: a seeded patient's SSN and name as E'' escapes, U&'' strings, dollar quotes, bit
//   strings, arrays, row constructors, JSON literals, numbers written as strings, a CREATE FUNCTION body, split
//   across two statements of one string, text and binary parameters, an error PostgreSQL echoes (invalid input
//   syntax, set_config's value), a denied DO block; the session recording keeps the literals out and the rows
//   masked (also through `gatehouse replay`); the operator log (onInfo/onError) holds neither.
// - A record for every statement: a pipelined extended batch (three statements, three records and outcomes),
//   an Execute with a row limit continued across Syncs (a record and an outcome per Execute), a query string
//   whose second statement fails (the third is recorded and `aborted`), a cancelled pg_sleep (57014 outcome),
//   a login with a bad token (`auth_failed`), denied COPY FROM STDIN, CALL and DO (recorded, refused).
// - Disclosures: a masked read of patient P is listed for P and for no one else; the second Execute of a
//   row-limited portal lists the subject it returned; a subquery filter, a join, COPY and a cursor over P are
//   `possible` for P (never listed for another patient).
// - Tamper evidence (offline, on a closed gateway's log with three signed checkpoints): trailing whitespace,
//   CRLF line ends, a JSON-escaped character (same JSON value, other bytes), a blank line, a duplicated last
//   checkpoint, an old checkpoint replayed (re-chained) at the tail: all TAMPERED (exit 1); rotated files
//   given out of order verify intact (ordered by seq); the first file missing: begins-late (3).
//
// Not tried / limits noted: metrics labels (no statement text or values are labels: read, not tested); a
// pooled session's reset statements (Gatehouse's own, not attempts); approvals' free-text reasons and
// comments (people's own words, recorded as written by design); a quoted identifier such as
// `AS "John Smith"` stays in the recorded text (identifiers are the statement's shape, not literals:
// docs/audit.md promises literals only); a log cut right after a checkpoint (documented: the files alone
// cannot tell; the gateway's `.chain` state catches it at restart, `audit verify` does not read it).
//
// Run: GATEHOUSE_TEST_DB=gh_rt21c npx vitest run --project integration gateway/test/redteam-round21c.test.ts

import { createHmac, randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lineHash } from '../src/audit/chain.ts';
import type { AuditRecord } from '../src/audit/types.ts';
import { auditText, connectSqlstate, readAudit, startTestGateway, type TestGateway } from './support/harness.ts';
import { runGatehouse } from './support/run-tool.ts';
import { names, rowsOf, serialize, WireClient } from './support/wire-client.ts';

const work = mkdtempSync(join(tmpdir(), 'gatehouse-rt21c-'));
const signingDir = join(work, 'signing');
const subjectKeyFile = join(work, 'subject.key');
const subjectKey = randomBytes(32);
writeFileSync(subjectKeyFile, subjectKey);
const subjectHash = (id: number): string => createHmac('sha256', subjectKey).update(String(id)).digest('hex');

beforeAll(async () => {
  const keygen = await runGatehouse(['audit', 'keygen', '--out', signingDir]);
  expect(keygen.code, keygen.stderr).toBe(0);
}, 60_000);

const PHI_TABLES = { 'clinical.patients': { subject: 'id' }, 'clinical.visits': { subject: 'patient_id' } };

interface Seeded {
  id: number;
  ssn: string;
  name: string;
  diagnosis: string;
}

/** Waits until every statement record in the log has its outcome (outcomes are written just after). */
async function settled(t: TestGateway): Promise<AuditRecord[]> {
  return t.auditUntil((rs) => {
    const outcomes = new Set(rs.flatMap((r) => (r.type === 'outcome' ? [r.decision_id] : [])));
    return rs.every((r) => r.type !== 'statement' || outcomes.has(r.decision_id));
  });
}

/** Records whose statement text (as recorded) contains `fragment`, with their outcomes. */
function statementsLike(rs: AuditRecord[], fragment: string): Array<{ statement: Extract<AuditRecord, { type: 'statement' }>; outcome: Extract<AuditRecord, { type: 'outcome' }> | undefined }> {
  return rs.flatMap((r) => (r.type === 'statement' && r.statement.includes(fragment) ? [{ statement: r, outcome: rs.find((o): o is Extract<AuditRecord, { type: 'outcome' }> => o.type === 'outcome' && o.decision_id === r.decision_id) }] : []));
}

async function attempt(c: pg.Client, sql: string, values?: unknown[]): Promise<string | null> {
  try {
    await c.query(sql, values);
    return null;
  } catch (e) {
    return (e as { code?: string }).code ?? 'no-sqlstate';
  }
}

for (const engine of ['rego', 'cedar'] as const) {
  describe(`red-team round 21c: the audit evidence through a gateway (${engine})`, () => {
    let t: TestGateway;
    let agentToken: string;
    let agent: pg.Client;
    let breakglass: pg.Client;
    const recordings = join(work, `recordings-${engine}`);
    const operatorLog: string[] = [];
    /** Patients, one per test that needs its own (so accesses of one test never count for another). */
    let pts: Seeded[];

    beforeAll(async () => {
      t = await startTestGateway({
        engine,
        audit: {
          signing_key: join(signingDir, 'audit-signing.key'),
          checkpoint_interval_s: 1,
          recordings_dir: recordings,
          phi_tables: PHI_TABLES,
          subject_key: subjectKeyFile,
        },
        onInfo: (m) => operatorLog.push(m),
        onError: (m) => operatorLog.push(m),
      });
      const direct = new pg.Client({ connectionString: t.upstreamUrl });
      await direct.connect();
      pts = (await direct.query('SELECT id, ssn, first_name || \' \' || last_name AS name, diagnosis_code FROM clinical.patients ORDER BY id LIMIT 12')).rows.map((r) => ({
        id: r.id as number,
        ssn: r.ssn as string,
        name: r.name as string,
        diagnosis: r.diagnosis_code as string,
      }));
      await direct.end();
      agentToken = await t.token(`agent-21c-${engine}`, ['agents']);
      agent = await t.client(agentToken);
      breakglass = await t.client(await t.token(`dr-21c-${engine}`, ['breakglass']));
    }, 120_000);

    afterAll(async () => {
      await t?.close();
    });

    const logHolds = (p: Seeded): string[] => {
      const text = auditText(t.auditFile);
      return [p.ssn, p.name].filter((v) => text.includes(v));
    };

    /** Accesses `gatehouse audit disclosures` gives for patient `id` (with --include-possible). */
    async function disclosures(id: number): Promise<Array<{ decision_id: string; match: string }>> {
      const run = await runGatehouse(['audit', 'disclosures', '--subject', String(id), '--key', subjectKeyFile, '--include-possible', '--format', 'ndjson', t.auditFile]);
      expect([0, 1], run.stderr).toContain(run.code);
      return run.stdout
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as { decision_id: string; match: string });
    }

    describe('area 2: no PHI in the log', () => {
      // R21c-1
      it('R21c-1: a comment carrying a patient\'s SSN and name is not written to the log', async () => {
        const p = pts[0]!;
        expect(await attempt(agent, `SELECT id, diagnosis_code FROM clinical.patients /* ${p.name}, SSN ${p.ssn} */ WHERE id = ${p.id}`)).toBeNull();
        expect(await attempt(agent, `SELECT id FROM clinical.visits WHERE patient_id = ${p.id} -- called back ${p.name} ${p.ssn}`)).toBeNull();
        await settled(t);
        expect(statementsLike(t.audit(), 'FROM clinical.visits WHERE patient_id = $1')).toHaveLength(1);
        expect(logHolds(p)).toEqual([]);
      });

      // R21c-2
      it('R21c-2: an error message quoting a value with double quotes inside keeps none of it in the outcome', async () => {
        const p = pts[1]!;
        // PostgreSQL quotes the bad value without escaping its own double quotes: `"{"name":"<name>"}"`.
        expect(await attempt(agent, `SELECT '{"patient":"${p.name}","ssn":"x${p.ssn.replaceAll('-', '')}x"}'::integer`)).toBe('22P02');
        // The parser's message quotes the token it stopped at, a string literal with double quotes inside.
        expect(await attempt(agent, `SELECT 1 'note " ${p.name} " end'`)).toBe('42601');
        await settled(t);
        expect(logHolds(p)).toEqual([]);
        expect(auditText(t.auditFile)).not.toContain(p.ssn.replaceAll('-', ''));
      });

      it('held: literal forms, parameters, echoed values and a denied DO block keep the SSN and name out', async () => {
        const p = pts[2]!;
        const [first, last] = p.name.split(' ') as [string, string];
        const u = (s: string): string => [...s].map((ch) => `\\${ch.charCodeAt(0).toString(16).padStart(4, '0')}`).join('');
        const forms = [
          `SELECT id FROM clinical.patients WHERE ssn = E'${p.ssn.replace('-', '\\x2d')}'`,
          `SELECT id FROM clinical.patients WHERE last_name = U&'${u(last)}'`,
          `SELECT id FROM clinical.patients WHERE ssn = $q$${p.ssn}$q$ OR last_name = $$${last}$$`,
          `SELECT B'101' | B'${'1'.repeat(3)}', X'${Buffer.from(p.ssn).toString('hex')}'`,
          `SELECT id FROM clinical.patients WHERE ssn = ANY(ARRAY['${p.ssn}']) OR ssn = ANY('{${p.ssn}}')`,
          `SELECT id FROM clinical.patients WHERE (first_name, last_name) = ROW('${first}', '${last}')`,
          `SELECT '{"name": "${p.name}", "ssn": "${p.ssn}"}'::jsonb ->> 'name'`,
          `SELECT id FROM clinical.patients WHERE id = '${p.id}' AND ssn::text = '${p.ssn}'::text`,
          `SELECT '${first}'; SELECT '${last}', '${p.ssn}'`,
          `CREATE FUNCTION public.rt21c_f() RETURNS text LANGUAGE sql AS $body$ SELECT '${p.name} ${p.ssn}' $body$`,
          `DO $do$ BEGIN RAISE EXCEPTION 'patient %', '${p.name} ${p.ssn}'; END $do$`,
          `SELECT set_config('search_path', '${p.name} ${p.ssn}', true)`,
          `SELECT '${p.name}'::date`,
          `SELECT '${p.ssn}'::numeric`,
        ];
        for (const sql of forms) await attempt(agent, sql);
        await attempt(breakglass, `SELECT id FROM clinical.patients WHERE ssn = $1 OR last_name = $2`, [p.ssn, last]);
        await attempt(agent, 'SELECT length($1::bytea)', [Buffer.from(`${p.name} ${p.ssn}`)]); // a binary-format parameter
        await settled(t);
        expect(statementsLike(t.audit(), 'DO $1')[0]?.statement.decision).toBe('deny');
        expect(logHolds(p)).toEqual([]);
        expect(operatorLog.filter((m) => m.includes(p.ssn) || m.includes(p.name))).toEqual([]);
      });

      it('held: the session recording and `gatehouse replay` show the rows masked and the literals out', async () => {
        const p = pts[3]!;
        const c = await t.client(agentToken, { application_name: 'rt21c-recorded' });
        const r = await c.query(`SELECT id, ssn, first_name, last_name, diagnosis_code FROM clinical.patients WHERE ssn = '${p.ssn}' OR id = ${p.id}`);
        expect(r.rows).toHaveLength(1);
        expect(JSON.stringify(r.rows)).not.toContain(p.ssn);
        await c.end();
        const rs = await settled(t);
        const session = statementsLike(rs, `WHERE ssn = $1 OR id = $2`).at(-1)!.statement.session_id;
        // Recordings are written after the bytes go to the client, without fsync: wait for this one's rows.
        const read = (): string => {
          const file = readdirSync(recordings).find((f) => f.startsWith(session));
          return file === undefined ? '' : readFileSync(join(recordings, file), 'utf8');
        };
        for (let i = 0; i < 200 && !read().includes(p.diagnosis); i++) await new Promise((r) => setTimeout(r, 25));
        const recorded = read();
        expect(recorded).toContain(p.diagnosis);
        expect([p.ssn, p.name, ...p.name.split(' ')].filter((v) => recorded.includes(v))).toEqual([]);
        const replay = await runGatehouse(['replay', session, '--dir', recordings]);
        expect(replay.code, replay.stderr).toBe(0);
        expect(replay.stdout).toContain(p.diagnosis);
        expect([p.ssn, p.name].filter((v) => replay.stdout.includes(v))).toEqual([]);
      });
    });

    describe('area 1: a record for every statement attempted', () => {
      it('held: a pipelined batch of three extended statements: three records, three outcomes', async () => {
        const w = await WireClient.connect(t.port, agentToken);
        for (const n of [211, 212, 213]) w.send(serialize.parse({ text: `SELECT ${n} AS rt21c_pipe` }), serialize.bind({}), serialize.execute({}));
        w.send(serialize.sync());
        const [g] = await w.untilReady(1);
        expect(names(g!).filter((n) => n === 'commandComplete')).toHaveLength(3);
        w.close();
        const rs = await settled(t);
        const recs = statementsLike(rs, 'AS rt21c_pipe');
        expect(recs).toHaveLength(3);
        expect(recs.map((x) => x.outcome?.outcome.status)).toEqual(['ok', 'ok', 'ok']);
      });

      it('held: an Execute with a row limit continued across Syncs: a record and an outcome per Execute', async () => {
        const w = await WireClient.connect(t.port, agentToken);
        w.send(serialize.query('BEGIN'));
        await w.untilReady(1);
        w.send(serialize.parse({ text: 'SELECT id AS rt21c_portal FROM clinical.visits ORDER BY id' }), serialize.bind({ portal: 'p21c' }), serialize.execute({ portal: 'p21c', rows: 2 }), serialize.sync());
        await w.untilReady(1);
        w.send(serialize.execute({ portal: 'p21c', rows: 2 }), serialize.sync());
        const [second] = await w.untilReady(1);
        expect(rowsOf(second!)).toHaveLength(2);
        w.send(serialize.query('COMMIT'));
        await w.untilReady(1);
        w.close();
        const recs = statementsLike(await settled(t), 'AS rt21c_portal');
        expect(recs).toHaveLength(2);
        expect(recs.map((x) => x.outcome?.outcome)).toEqual([
          { status: 'ok', command_tag: 'SUSPENDED', rows: 2 },
          { status: 'ok', command_tag: 'SUSPENDED', rows: 2 },
        ]);
      });

      it('held: a failing statement mid-string: the one after it is recorded and aborted, not left without outcome', async () => {
        expect(await attempt(agent, 'SELECT 1 AS rt21c_a; SELECT 1/0 AS rt21c_b; SELECT 3 AS rt21c_c')).toBe('22012');
        const rs = await settled(t);
        expect(statementsLike(rs, 'rt21c_b')[0]?.outcome?.outcome).toMatchObject({ status: 'error', sqlstate: '22012' });
        expect(statementsLike(rs, 'rt21c_c')[0]?.outcome?.outcome).toEqual({ status: 'aborted' });
      });

      it('held: a cancelled statement has its record and a 57014 outcome', async () => {
        const w = await WireClient.connect(t.port, agentToken);
        w.send(serialize.query('SELECT pg_sleep(30) AS rt21c_sleep'));
        await t.auditUntil((rs) => statementsLike(rs, 'rt21c_sleep').length === 1);
        await new Promise((r) => setTimeout(r, 200)); // let it reach the server (no assertion on time)
        await w.cancel();
        const [g] = await w.untilReady(1);
        w.close();
        const code = g!.find((m) => m.name === 'error')?.code;
        const recs = statementsLike(await settled(t), 'rt21c_sleep');
        expect(recs).toHaveLength(1);
        if (recs[0]!.statement.decision === 'deny') expect(recs[0]!.outcome?.outcome.status).toBe('refused');
        else expect([code, recs[0]!.outcome?.outcome]).toEqual(['57014', expect.objectContaining({ status: 'error', sqlstate: '57014' })]);
      });

      it('held: a login with a bad token, denied COPY FROM STDIN, CALL and DO are all recorded', async () => {
        expect(await connectSqlstate({ host: '127.0.0.1', port: t.port, user: 'agent', database: 'postgres', password: 'rt21c.not.a.jwt', application_name: 'rt21c-badlogin' })).toBe('28P01');
        expect(await attempt(agent, 'COPY clinical.visits FROM STDIN')).toBe('42501');
        expect(await attempt(agent, 'CALL public.rt21c_proc()')).not.toBeNull();
        expect(await attempt(agent, "DO LANGUAGE plpgsql $$ BEGIN PERFORM 1; END $$")).not.toBeNull();
        const rs = await settled(t);
        expect(rs.some((r) => r.type === 'session' && r.event === 'auth_failed' && r.application_name === 'rt21c-badlogin')).toBe(true);
        for (const f of ['COPY clinical.visits FROM STDIN', 'CALL public.rt21c_proc()', 'DO LANGUAGE plpgsql $1']) {
          const recs = statementsLike(rs, f);
          expect(recs, f).toHaveLength(1);
          expect(recs[0]!.outcome?.outcome.status, f).toBe('refused');
        }
      });

      // R21c-4
      it('R21c-4: a refused fast-path FunctionCall is answered at once, leaves a record, and the session goes on', async () => {
        const w = await WireClient.connect(t.port, agentToken);
        const body = Buffer.alloc(10);
        body.writeInt32BE(1598, 0); // pg_catalog.md5(text), no arguments: refused before anything runs
        const head = Buffer.alloc(5);
        head.write('F', 0);
        head.writeInt32BE(4 + body.length, 1);
        w.send(head, body); // no Sync: PostgreSQL answers a FunctionCall with its own ReadyForQuery
        const [g] = await w.untilReady(1);
        expect(names(g!)).toEqual(['error', 'readyForQuery']);
        expect(g![0]!.code).toBe('0A000');
        expect(g![1]!.status).toBe('I');
        w.send(serialize.query('SELECT 1 AS rt21c_after_fast_path'));
        const [after] = await w.untilReady(1);
        expect(rowsOf(after!)).toEqual([['1']]);
        w.close();
        const [rec, ...more] = statementsLike(await settled(t), '<fast-path function call: oid');
        expect(more).toEqual([]);
        // The OID is the client's number: a placeholder when literals are redacted, as any literal.
        expect(rec!.statement).toMatchObject({ statement: '<fast-path function call: oid $1>', decision: 'deny', policies: ['gatehouse.fast_path'] });
        expect(rec!.outcome?.outcome).toMatchObject({ status: 'refused', sqlstate: '0A000' });
      });
    });

    describe('area 4: audit disclosures --subject', () => {
      it('held: a masked read of P is listed for P, and for no other patient', async () => {
        const [p, other] = [pts[4]!, pts[5]!];
        const r = await agent.query(`SELECT id, ssn, diagnosis_code AS rt21c_masked FROM clinical.patients WHERE id = ${p.id}`);
        expect(r.rows[0].ssn).not.toBe(p.ssn);
        const rs = await settled(t);
        const id = statementsLike(rs, 'rt21c_masked')[0]!.statement.decision_id;
        expect((await disclosures(p.id)).filter((d) => d.decision_id === id)).toEqual([expect.objectContaining({ match: 'listed' })]);
        expect((await disclosures(other.id)).map((d) => d.decision_id)).not.toContain(id);
      });

      it('held: the second Execute of a row-limited portal lists the patient it returned', async () => {
        const [a, b] = [pts[6]!, pts[7]!];
        const w = await WireClient.connect(t.port, agentToken);
        w.send(serialize.query('BEGIN'));
        await w.untilReady(1);
        w.send(serialize.parse({ text: `SELECT id AS rt21c_limited FROM clinical.patients WHERE id IN (${a.id}, ${b.id}) ORDER BY id` }), serialize.bind({ portal: 'q21c' }), serialize.execute({ portal: 'q21c', rows: 1 }), serialize.sync());
        await w.untilReady(1);
        w.send(serialize.execute({ portal: 'q21c', rows: 1 }), serialize.sync());
        await w.untilReady(1);
        w.send(serialize.query('COMMIT'));
        await w.untilReady(1);
        w.close();
        const recs = statementsLike(await settled(t), 'rt21c_limited');
        expect(recs).toHaveLength(2);
        expect(recs[1]!.outcome?.subjects?.['clinical.patients']).toMatchObject({ status: 'listed', hashes: [subjectHash(b.id)] });
        const listed = (await disclosures(b.id)).filter((d) => d.match === 'listed').map((d) => d.decision_id);
        expect(listed).toContain(recs[1]!.statement.decision_id);
        expect(listed).not.toContain(recs[0]!.statement.decision_id);
      });

      it('held: a subquery filter, a join, COPY and a cursor over P are at least possible for P', async () => {
        const p = pts[8]!;
        await agent.query(`SELECT v.id AS rt21c_sub FROM clinical.visits v WHERE v.patient_id IN (SELECT id FROM clinical.patients WHERE id = ${p.id})`);
        await agent.query(`SELECT v.id AS rt21c_join, p.diagnosis_code FROM clinical.patients p JOIN clinical.visits v ON v.patient_id = p.id WHERE p.id = ${p.id}`);
        await agent.query(`COPY (SELECT id AS rt21c_copy, diagnosis_code FROM clinical.patients WHERE id = ${p.id}) TO STDOUT`);
        await agent.query('BEGIN');
        await agent.query(`DECLARE rt21c_cur CURSOR FOR SELECT id, diagnosis_code FROM clinical.patients WHERE id = ${p.id}`);
        await agent.query('FETCH ALL FROM rt21c_cur');
        await agent.query('COMMIT');
        const rs = await settled(t);
        const found = new Set((await disclosures(p.id)).map((d) => d.decision_id));
        for (const f of ['rt21c_sub', 'rt21c_join', 'rt21c_copy', 'DECLARE rt21c_cur']) {
          expect(found.has(statementsLike(rs, f)[0]!.statement.decision_id), f).toBe(true);
        }
      });

      // R21c-5
      it('R21c-5: a window function that shows the next patient\'s diagnosis in this row is not accounted only to this row\'s patient', async () => {
        const [a, b] = [pts[9]!, pts[10]!];
        const r = await agent.query(`SELECT id, lead(diagnosis_code) OVER (ORDER BY id) AS rt21c_next FROM clinical.patients WHERE id IN (${a.id}, ${b.id}) ORDER BY id LIMIT 1`);
        expect(r.rows).toEqual([{ id: a.id, rt21c_next: b.diagnosis }]); // patient B's diagnosis, shown in A's row
        const rs = await settled(t);
        const id = statementsLike(rs, 'rt21c_next')[0]!.statement.decision_id;
        expect((await disclosures(b.id)).map((d) => d.decision_id)).toContain(id);
      });
    });
  });
}

describe('red-team round 21c: tamper evidence, offline on a closed gateway\'s log', () => {
  let lines: string[];
  const pub = join(signingDir, 'audit-signing.pub.pem');

  beforeAll(async () => {
    const t = await startTestGateway({ audit: { signing_key: join(signingDir, 'audit-signing.key'), checkpoint_interval_s: 1 } });
    const c = await t.client(await t.token('agent-21c-tamper', ['agents']));
    await c.query('SELECT 1 AS rt21c_t1');
    await t.auditUntil((rs) => rs.filter((r) => r.type === 'checkpoint').length >= 1);
    await c.query('SELECT 2 AS rt21c_t2');
    await t.auditUntil((rs) => rs.filter((r) => r.type === 'checkpoint').length >= 2);
    await c.query('SELECT 3 AS rt21c_t3');
    await t.close(); // a shutdown checkpoint ends the log
    lines = auditText(t.auditFile).split('\n').filter((l) => l !== '');
    readAudit(t.auditFile); // every line parses
  }, 120_000);

  const checkpointsAt = (): number[] => lines.flatMap((l, i) => (l.includes('"type":"checkpoint"') ? [i] : []));
  let n = 0;
  async function verify(...files: string[][]): Promise<{ code: number | null; out: string }> {
    const paths = files.map((f) => {
      const p = join(work, `tampered-${++n}.ndjson`);
      writeFileSync(p, f.length === 0 ? '' : `${f.join('\n')}\n`);
      return p;
    });
    const r = await runGatehouse(['audit', 'verify', '--key', pub, ...paths]);
    return { code: r.code, out: r.stdout + r.stderr };
  }

  it('the untouched log verifies intact (exit 0) and ends with a checkpoint', async () => {
    expect(checkpointsAt().length).toBeGreaterThanOrEqual(3);
    expect(checkpointsAt().at(-1)).toBe(lines.length - 1);
    expect((await verify(lines)).code).toBe(0);
  });

  // R21c-3
  it('R21c-3: an emptied log (truncated to nothing, or only the zero tail) is not reported intact', async () => {
    expect((await verify([])).code).toBe(3);
    const zeros = join(work, 'zero-tail.ndjson');
    writeFileSync(zeros, Buffer.alloc(4096));
    expect((await runGatehouse(['audit', 'verify', '--key', pub, zeros])).code).toBe(3);
    expect((await runGatehouse(['audit', 'verify', zeros])).code).toBe(3);
  });

  // R21c-6
  it('R21c-6: an edit inside the last checkpoint line (its time, an added field) is reported', async () => {
    const last = JSON.parse(lines.at(-1)!) as Record<string, unknown>;
    const retimed = [...lines.slice(0, -1), JSON.stringify({ ...last, time: '2020-01-01T00:00:00.000Z' })];
    expect((await verify(retimed)).code).toBe(1);
    const added = [...lines.slice(0, -1), JSON.stringify({ ...last, note: 'reviewed, nothing to see' })];
    expect((await verify(added)).code).toBe(1);
  });

  it('held: trailing whitespace, CRLF, a JSON escape of the same value, a blank line: tampered (exit 1)', async () => {
    const i = lines.findIndex((l) => l.includes('rt21c_t1'));
    const edit = (f: (l: string) => string): string[] => lines.map((l, j) => (j === i ? f(l) : l));
    expect((await verify(edit((l) => `${l} `))).code).toBe(1);
    expect((await verify(lines.map((l) => `${l}\r`))).code).toBe(1);
    expect((await verify(edit((l) => l.replace('rt21c_t1', 'rt21c\\u005ft1')))).code).toBe(1);
    expect((await verify([...lines.slice(0, i), '', ...lines.slice(i)])).code).toBe(1);
  });

  it('held: a duplicated last checkpoint and an old checkpoint replayed (re-chained) at the tail: tampered', async () => {
    expect((await verify([...lines, lines.at(-1)!])).code).toBe(1);
    const cps = checkpointsAt();
    const base = lines.slice(0, -1);
    const old = JSON.parse(lines[cps[0]!]!) as Record<string, unknown>;
    const replayed = { ...old, seq: (JSON.parse(base.at(-1)!) as { seq: number }).seq + 1, prev: lineHash(base.at(-1)!) };
    expect((await verify([...base, JSON.stringify(replayed)])).code).toBe(1);
  });

  it('held: files given out of order verify as one log; the first file missing is begins-late (3)', async () => {
    const cut = checkpointsAt()[1]! + 1;
    expect((await verify(lines.slice(cut), lines.slice(0, cut))).code).toBe(0);
    expect((await verify(lines.slice(cut))).code).toBe(3);
    // A copy of the log given twice is not a longer intact log.
    const p = join(work, 'twice.ndjson');
    writeFileSync(p, `${lines.join('\n')}\n`);
    copyFileSync(p, `${p}.2`);
    expect((await runGatehouse(['audit', 'verify', '--key', pub, p, `${p}.2`])).code).toBe(1);
  });
});
