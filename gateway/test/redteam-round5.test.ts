// Fifth red-team round, against masking at the source (enforce/mask-rewrite.ts) and the content
// detectors on output (enforce/content-detectors.ts, output-plan.ts), through Gatehouse to the real
// PostgreSQL with both engines and the example HIPAA policies. Two identities attack:
//   - `agents` read clinical.patients with ssn, phone, email, mrn, names, address and date_of_birth
//     masked at the source;
//   - `support` (also an agent) reads clinical.visits, whose free-text notes are scanned on the way
//     out: identifiers in them are replaced by labels ([SSN], [PHONE], [EMAIL], ...).
//
// Every test asserts the SECURE behaviour. Findings (see the report in the commit messages):
//   R5-1 (over-refusal, fixed) a masked statement with an IN list (`WHERE id IN (1, 2, 3)`),
//        `ANY (ARRAY[...])` or a JSON_TABLE path name was refused with 0A000: the rewrite check
//        compared PostgreSQL 18's new position fields (rexpr_list_start, list_start, ...) as if
//        they were structure, and the splice shifts them.
//   R5-2 (critical, fixed) a cursor declared under content detection returned the raw notes
//        through FETCH: FETCH is a statement of its own, decided without the detection, so its rows
//        were not scanned. DECLARE (and any write, which stores a copy read back unscanned) is now
//        refused under detection.
//   R5-3 (critical, fixed) detectors scanned only the output, so any expression over a scanned column
//        that changes the identifier's shape carried it out: reverse(), substr() split across
//        columns, one character per row, encode(... 'base64'/'hex'), ::bytea, another character
//        for "-", a space after each digit, ' at ' for '@'. And predicates saw the raw note (WHERE
//        notes LIKE ...), an oracle. Detection now happens at the source: the rewrite replaces a
//        scanned column by its text with identifiers replaced in SQL (enforce/detector-sql.ts), so
//        PostgreSQL never sees them; the output scan stays as defence in depth. Views over a scanned
//        table are refused since (R5-8).
//   R5-4 (high, fixed; critical once approvals run writes) a write to a masked table was
//        not a read in the policy input (tables_read), so no mask applies to it: an identity that
//        reads clinical.patients masked and may update it gets raw values from `UPDATE ... RETURNING
//        ssn` and tests raw values in its WHERE. PostgreSQL itself needs SELECT privilege for the
//        columns a write reads (WHERE, RETURNING, SET expressions, ON CONFLICT); the policy input
//        should list such a target in tables_read too, so that its masks apply and the rewrite
//        refuses the write (docs/data-path.md already says it is refused). Under the example
//        policies agents' writes to patients need approval, which is not implemented yet.
//   R5-5 (critical, fixed) COPY's own options reshape a scanned column with no expression at all:
//        `COPY clinical.visits (notes) TO STDOUT WITH (FORMAT csv, QUOTE '-', FORCE_QUOTE *)` sent
//        "SSN 219--09--9999" and "555--0142" (a CSV quote character inside a value is doubled),
//        ESCAPE and a text-format DELIMITER do the same. Under detection, COPY now takes only
//        quote, escape and delimiter characters no identifier holds, no ENCODING but UTF-8, and no
//        binary format (which used to end the session instead of being refused).
//   R5-6 (critical, fixed) binary results: a scanned value of a type whose binary form is not its
//        text (a whole row `SELECT v FROM clinical.visits v`, `ARRAY[notes]`, a domain such as
//        information_schema.character_data) passed unscanned, the raw note inside. Such values are
//        now withheld (NULL) under detection; bytea is scanned as the bytes it is.
//   R5-7 (critical, fixed) `SELECT set_config('application_name', notes, false) FROM clinical.visits`
//        stored the raw note in a setting: PostgreSQL's ParameterStatus carried it to the client
//        unscanned ("Callback (415) 555-0142; SSN 219-09-9999; wrote to jane.roe@exa"), and a later
//        SHOW application_name (no detection: it reads no table) read it back, 63 bytes at a time.
//        A statement that changes a setting is now refused under detection.
//   R5-8 (critical, fixed) a view or materialized view over clinical.visits returned the notes
//        unscanned: PostgreSQL names the view as a column's source, and no detection names the
//        view's column. A view's column then counted as computed (scanned with every detector); with
//        detection at the source, a view over a scanned table is refused, as under a mask.
//
// Run: GATEHOUSE_TEST_DB=gatehouse_it_redteam5 npx vitest run --project integration gateway/test/redteam-round5.test.ts

import { copyFileSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, startTestGateway, type TestGateway } from './support/harness.ts';
import { probe, useRedTeam, type ProbeOutcome } from './support/redteam.ts';
import { psqlVia } from './support/run-tool.ts';
import { serialize, WireClient } from './support/wire-client.ts';

const VISIT_ID = 995_001;
const NOTE_SSN = '219-09-9999';
const NOTE_PHONE = '(415) 555-0142';
const NOTE_EMAIL = 'jane.roe@example.org';
const NOTE = `Callback ${NOTE_PHONE}; SSN ${NOTE_SSN}; wrote to ${NOTE_EMAIL} about the results.`;

const SETUP = `
  DELETE FROM clinical.visits WHERE id = ${VISIT_ID};
  INSERT INTO clinical.visits (id, patient_id, visit_date, reason, notes)
    SELECT ${VISIT_ID}, min(id), date '2026-01-02', 'follow-up', '${NOTE}' FROM clinical.patients;
  CREATE OR REPLACE VIEW clinical.rt5_notes_v AS SELECT id, notes, notes || '' AS copied FROM clinical.visits;
  DROP MATERIALIZED VIEW IF EXISTS clinical.rt5_notes_mv;
  CREATE MATERIALIZED VIEW clinical.rt5_notes_mv AS SELECT id, notes FROM clinical.visits;`;
const CLEANUP = `DROP VIEW IF EXISTS clinical.rt5_notes_v; DROP MATERIALIZED VIEW IF EXISTS clinical.rt5_notes_mv;
  DELETE FROM clinical.visits WHERE id = ${VISIT_ID};`;

/** Masked statements that must run (R5-1: refused with 0A000 before the fix) and return masked values. */
const MUST_RUN_MASKED = [
  'SELECT id, ssn FROM clinical.patients WHERE id IN (1, 2, 3) ORDER BY id',
  'SELECT id, ssn FROM clinical.patients WHERE id NOT IN (4, 5) AND email IN (email) ORDER BY id LIMIT 3',
  'SELECT id, phone FROM clinical.patients WHERE id = ANY (ARRAY[1, 2]) ORDER BY id',
  "SELECT p.id FROM clinical.patients p WHERE p.ssn IN ('x', 'y') OR p.id IN (SELECT v.patient_id FROM clinical.visits v WHERE v.id IN (1, 2))",
  'SELECT ARRAY[ssn, phone, email] FROM clinical.patients WHERE id IN (1, 2)',
];

/**
 * Attempts on the masks (agents). They run or fail as they will; none may return an identifier.
 * Binary results, cursors, EXPLAIN, JSON, composites, arrays, casts, search_path, error echoes.
 */
const MASK_PROBES = [
  'SELECT ssn::bytea, ssn::int FROM clinical.patients',
  "SELECT encode(convert_to(ssn, 'UTF8'), 'base64'), encode(convert_to(email, 'UTF8'), 'hex') FROM clinical.patients",
  "SELECT jsonb_path_query(to_jsonb(p), '$.ssn') FROM clinical.patients p",
  'SELECT * FROM ROWS FROM (jsonb_to_record((SELECT to_jsonb(p) FROM clinical.patients p LIMIT 1)) AS (ssn text, email text))',
  'SELECT (p).* FROM (SELECT p FROM clinical.patients p) x',
  'SELECT row(p.*)::text, array_agg(p) FROM clinical.patients p GROUP BY p.*',
  "SELECT int4range(length(ssn), 10), daterange(date_of_birth, date_of_birth + 1) FROM clinical.patients",
  'SELECT pg_column_size(ssn), octet_length(phone), bit_length(email) FROM clinical.patients',
  "SELECT to_char(date_of_birth, 'YYYY-MM-DD'), date_of_birth::text, extract(doy FROM date_of_birth) FROM clinical.patients",
  'SELECT clinical.patients.ssn FROM clinical.patients',
  "SELECT U&\"\\0073sn\" FROM clinical.\"patients\" WHERE id IN (1)",
  "SELECT ssn FROM clinical.patients WHERE ssn = E'\\x31'",
  'EXPLAIN (VERBOSE, FORMAT JSON) SELECT * FROM clinical.patients WHERE id IN (1, 2)',
  'EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT ssn FROM clinical.patients ORDER BY ssn',
  "SELECT xmlelement(name p, xmlattributes(ssn AS s, email AS e)) FROM clinical.patients",
  "SELECT ssn::xml FROM clinical.patients",
  "SELECT to_tsvector('simple', ssn || ' ' || phone || ' ' || email) FROM clinical.patients",
  'SELECT string_to_array(phone, NULL), regexp_split_to_array(email, \'\') FROM clinical.patients',
  'SELECT * FROM clinical.patients p JOIN clinical.visits v ON v.patient_id = p.id WHERE v.id IN (1, 2, 3)',
  'WITH RECURSIVE r AS (SELECT id, ssn FROM clinical.patients WHERE id = 1 UNION ALL SELECT r.id + 1, p.ssn FROM r JOIN clinical.patients p ON p.id = r.id + 1 WHERE r.id < 5) SELECT * FROM r',
  "SELECT set_config('application_name', email, false) FROM clinical.patients WHERE id = 1",
  "SELECT current_setting('application_name')",
];

/** Reads of the note that a support identity may run: each must come back with the identifiers replaced. */
const SCANNED_READS = [
  `SELECT notes FROM clinical.visits WHERE id = ${VISIT_ID}`,
  `SELECT v FROM clinical.visits v WHERE id = ${VISIT_ID}`,
  `SELECT notes FROM clinical.visits WHERE id IN (${VISIT_ID}, 1)`,
  `COPY (SELECT notes FROM clinical.visits WHERE id = ${VISIT_ID}) TO STDOUT`,
];

/**
 * R5-3: expressions that change the identifiers' shape, and how to undo the change. Each is run by
 * a support identity; the decoded result must not hold an identifier of the note.
 */
const SHAPE_CHANGES: Array<{ name: string; sql: string; decode: (rows: Record<string, unknown>[]) => string }> = [
  {
    name: 'reverse()',
    sql: `SELECT reverse(notes) AS x FROM clinical.visits WHERE id = ${VISIT_ID}`,
    decode: (rows) => [...String(rows[0]?.['x'])].reverse().join(''),
  },
  {
    name: 'substr() split across two columns',
    sql: `SELECT substr(notes, 1, strpos(notes, 'SSN') + 5) AS a, substr(notes, strpos(notes, 'SSN') + 6) AS b FROM clinical.visits WHERE id = ${VISIT_ID}`,
    decode: (rows) => `${String(rows[0]?.['a'])}${String(rows[0]?.['b'])}`,
  },
  {
    name: 'one character per row',
    sql: `SELECT c FROM clinical.visits v, regexp_split_to_table(v.notes, '') WITH ORDINALITY AS t(c, n) WHERE v.id = ${VISIT_ID} ORDER BY n`,
    decode: (rows) => rows.map((r) => String(r['c'])).join(''),
  },
  {
    name: "encode(..., 'base64')",
    sql: `SELECT encode(convert_to(notes, 'UTF8'), 'base64') AS x FROM clinical.visits WHERE id = ${VISIT_ID}`,
    decode: (rows) => Buffer.from(String(rows[0]?.['x']), 'base64').toString('utf8'),
  },
  {
    name: "encode(..., 'hex')",
    sql: `SELECT encode(convert_to(notes, 'UTF8'), 'hex') AS x FROM clinical.visits WHERE id = ${VISIT_ID}`,
    decode: (rows) => Buffer.from(String(rows[0]?.['x']), 'hex').toString('utf8'),
  },
  {
    name: '::bytea',
    sql: `SELECT notes::bytea AS x FROM clinical.visits WHERE id = ${VISIT_ID}`,
    decode: (rows) => (Buffer.isBuffer(rows[0]?.['x']) ? (rows[0]!['x'] as Buffer).toString('utf8') : String(rows[0]?.['x'])),
  },
  {
    name: 'a hyphen bullet (U+2043) for "-"',
    sql: `SELECT replace(notes, '-', U&'\\2043') AS x FROM clinical.visits WHERE id = ${VISIT_ID}`,
    decode: (rows) => String(rows[0]?.['x']).replaceAll('\u2043', '-'),
  },
  {
    name: 'a space after every digit',
    sql: `SELECT regexp_replace(notes, '(\\d)', '\\1 ', 'g') AS x FROM clinical.visits WHERE id = ${VISIT_ID}`,
    decode: (rows) => String(rows[0]?.['x']).replace(/(\d) /g, '$1'),
  },
  {
    name: "' at ' for '@'",
    sql: `SELECT replace(notes, '@', ' at ') AS x FROM clinical.visits WHERE id = ${VISIT_ID}`,
    decode: (rows) => String(rows[0]?.['x']).replaceAll(' at ', '@'),
  },
  {
    name: 'translate() of the digits to letters',
    sql: `SELECT translate(notes, '0123456789', 'abcdefghij') AS x FROM clinical.visits WHERE id = ${VISIT_ID}`,
    decode: (rows) => String(rows[0]?.['x']).replace(/[a-j]/g, (ch) => String(ch.charCodeAt(0) - 97)),
  },
  {
    name: 'string_agg() of the characters with a separator',
    sql: `SELECT string_agg(c, '|' ORDER BY n) AS x FROM clinical.visits v, regexp_split_to_table(v.notes, '') WITH ORDINALITY AS t(c, n) WHERE v.id = ${VISIT_ID}`,
    decode: (rows) => String(rows[0]?.['x']).split('|').join(''),
  },
  {
    name: 'regexp_replace() interleaving a character',
    sql: `SELECT regexp_replace(notes, '(.)', '\\1~', 'g') AS x FROM clinical.visits WHERE id = ${VISIT_ID}`,
    decode: (rows) => String(rows[0]?.['x']).replaceAll('~', ''),
  },
  {
    name: 'character codes',
    sql: `SELECT array_to_string(ARRAY(SELECT ascii(c) FROM regexp_split_to_table((SELECT notes FROM clinical.visits WHERE id = ${VISIT_ID}), '') AS c), ',') AS x`,
    decode: (rows) => String.fromCharCode(...String(rows[0]?.['x']).split(',').map(Number)),
  },
  {
    name: 'reverse() through a CTE and a whole-row cast',
    sql: `WITH w AS (SELECT v FROM clinical.visits v WHERE id = ${VISIT_ID}) SELECT reverse(w.v::text) AS x FROM w`,
    decode: (rows) => [...String(rows[0]?.['x'])].reverse().join(''),
  },
  {
    name: 'reverse() of a JSON field of the row',
    sql: `SELECT reverse(j->>'notes') AS x FROM (SELECT to_jsonb(v) AS j FROM clinical.visits v WHERE id = ${VISIT_ID}) s`,
    decode: (rows) => [...String(rows[0]?.['x'])].reverse().join(''),
  },
  {
    name: 'reverse() of a regexp_match() of the SSN',
    sql: `SELECT reverse((regexp_match(notes, '\\d{3}-\\d{2}-\\d{4}'))[1]) AS x FROM clinical.visits WHERE id = ${VISIT_ID}`,
    decode: (rows) => [...String(rows[0]?.['x'])].reverse().join(''),
  },
  {
    name: 'an md5() of the span after "SSN " (compared with a guess)',
    sql: `SELECT md5(substr(notes, strpos(notes, 'SSN ') + 4, 11)) = md5('${NOTE_SSN}') AS x FROM clinical.visits WHERE id = ${VISIT_ID}`,
    decode: (rows) => (rows[0]?.['x'] === true ? NOTE_SSN : ''),
  },
  {
    name: 'strpos() of a guess',
    sql: `SELECT strpos(notes, '${NOTE_PHONE}') > 0 AS x FROM clinical.visits WHERE id = ${VISIT_ID}`,
    decode: (rows) => (rows[0]?.['x'] === true ? NOTE_PHONE : ''),
  },
  {
    name: 'a digit of the SSN by position, one statement for all nine',
    sql: `SELECT string_agg(substr(notes, strpos(notes, 'SSN ') + 4 + i, 1), '' ORDER BY i) AS x FROM clinical.visits, generate_series(0, 10) AS i WHERE id = ${VISIT_ID}`,
    decode: (rows) => [...String(rows[0]?.['x'])].join(''),
  },
  {
    name: 'hex digits of the characters',
    sql: `SELECT string_agg(to_hex(ascii(c)), ' ' ORDER BY n) AS x FROM clinical.visits v, regexp_split_to_table(v.notes, '') WITH ORDINALITY AS t(c, n) WHERE v.id = ${VISIT_ID}`,
    decode: (rows) => String(rows[0]?.['x']).split(' ').map((h) => String.fromCharCode(parseInt(h, 16))).join(''),
  },
];

/** Whether text holds one of the note's identifiers, written as in the note or as bare digits. */
function holdsNoteIdentifier(text: string): boolean {
  return [NOTE_SSN, NOTE_PHONE, NOTE_EMAIL, '219099999', '4155550142'].some((s) => text.includes(s));
}

for (const engine of ['rego', 'cedar'] as const) {
  describe(`red team round 5, ${engine} engine`, () => {
    const rt = useRedTeam(engine, 'agent-red5', { setupSql: SETUP, cleanupSql: CLEANUP });

    /** Whether anything holds a patient identifier (SSN with or without dashes, email, phone, MRN). */
    async function identifiers(): Promise<string[]> {
      const rows = (await rt.direct.query('SELECT ssn, email, phone, mrn FROM clinical.patients')).rows as Record<string, string>[];
      return rows.flatMap((r) => [r['ssn']!, r['ssn']!.replaceAll('-', ''), r['email']!, r['phone']!, r['mrn']!]);
    }
    function leaksAny(x: unknown, secrets: readonly string[]): string | undefined {
      const s = typeof x === 'string' ? x : JSON.stringify(x);
      return secrets.find((v) => s.includes(v));
    }

    describe('masks at the source (agents)', () => {
      // CLOSED: R5-1 over-refusal. Was: 0A000 "could not apply the masks of this statement safely
      // (statement 1 does not read as intended after rewriting)".
      it('R5-1: masked statements with IN lists and ARRAY[...] run and return masked values', async () => {
        const c = await rt.agent();
        const secrets = await identifiers();
        for (const sql of MUST_RUN_MASKED) {
          const r = await probe(c, sql);
          expect.soft(r.code, `${sql}: ${r.message}`).toBeNull();
          expect.soft(r.rows.length, sql).toBeGreaterThan(0);
          expect.soft(leaksAny(r, secrets), sql).toBeUndefined();
        }
        const ssns = (await c.query('SELECT id, ssn FROM clinical.patients WHERE id IN (1, 2, 3) ORDER BY id')).rows;
        expect(ssns).toEqual([
          { id: 1, ssn: '***' },
          { id: 2, ssn: '***' },
          { id: 3, ssn: '***' },
        ]);
      });

      it(`${MASK_PROBES.length} further attempts (binary, JSON, composites, ranges, EXPLAIN, XML, escapes) return no identifier`, async () => {
        const c = await rt.agent();
        const secrets = await identifiers();
        const notices: string[] = [];
        c.on('notice', (n) => notices.push(JSON.stringify(n)));
        for (const sql of MASK_PROBES) {
          const r = await probe(c, sql);
          expect.soft(leaksAny(r, secrets), `${sql}: ${JSON.stringify(r).slice(0, 200)}`).toBeUndefined();
        }
        // The same in the extended protocol with binary results (node-postgres: `binary: true`).
        for (const text of ['SELECT ssn, email, phone, mrn, p FROM clinical.patients p WHERE id IN (1, 2)', 'SELECT ssn::bytea AS b, ARRAY[email] AS a FROM clinical.patients']) {
          const r = await c.query({ text, values: [], binary: true } as pg.QueryConfig);
          const decoded = JSON.stringify(r.rows.map((row) => Object.values(row).map((v) => (Buffer.isBuffer(v) ? v.toString('latin1') : v))));
          expect.soft(leaksAny(decoded, secrets), text).toBeUndefined();
        }
        expect(leaksAny(notices, secrets)).toBeUndefined();
      });

      it('a cursor over the masked table, held across COMMIT and fetched in pieces, returns masked values', async () => {
        const c = await rt.agent();
        const secrets = await identifiers();
        await c.query('BEGIN');
        await c.query('DECLARE rt5_hold CURSOR WITH HOLD FOR SELECT id, ssn, email, phone FROM clinical.patients WHERE id IN (1, 2, 3) ORDER BY id');
        await c.query('COMMIT');
        const first = await probe(c, 'FETCH 2 FROM rt5_hold');
        const rest = await probe(c, 'FETCH ALL FROM rt5_hold');
        await c.query('CLOSE rt5_hold');
        expect(first.code, first.message ?? '').toBeNull();
        expect([...first.rows, ...rest.rows].map((r) => (r as { ssn: string }).ssn)).toEqual(['***', '***', '***']);
        expect(leaksAny([first, rest], secrets)).toBeUndefined();
      });

      it('date_of_birth comes back as a fake of the same year, not the real date', async () => {
        const c = await rt.agent();
        const real = (await rt.direct.query('SELECT id, date_of_birth::text AS d FROM clinical.patients ORDER BY id')).rows as { id: number; d: string }[];
        const seen = (await c.query('SELECT id, date_of_birth::text AS d FROM clinical.patients ORDER BY id')).rows as { id: number; d: string }[];
        expect(seen.map((r) => r.d.slice(0, 4))).toEqual(real.map((r) => r.d.slice(0, 4)));
        // A keyed day of the year: it may hit the real day by chance (1 in 365), never for most patients.
        const same = seen.filter((r, i) => r.d === real[i]!.d).length;
        expect(same).toBeLessThan(real.length / 4);
      });
    });

    describe('content detectors on output (support)', () => {
      const support = async (): Promise<pg.Client> => rt.gateway.client(await rt.gateway.token('support-red5', ['agents', 'support']));

      it('plain reads of the note come back with its identifiers replaced', async () => {
        const c = await support();
        for (const sql of SCANNED_READS.filter((s) => !s.startsWith('COPY'))) {
          const r = await probe(c, sql);
          expect.soft(r.code, `${sql}: ${r.message}`).toBeNull();
          expect.soft(JSON.stringify(r.rows), sql).toContain('[SSN]');
          expect.soft(holdsNoteIdentifier(JSON.stringify(r)), sql).toBe(false);
        }
      });

      // CLOSED: R5-2 (critical). Was: DECLARE ran, and FETCH ALL returned "Callback (415) 555-0142;
      // SSN 219-09-9999; wrote to jane.roe@example.org ..." unscanned (FETCH is decided as a cursor
      // statement with no detection, so its RowDescription got no scanner).
      it('R5-2: a cursor over a scanned column is refused, so FETCH cannot return the raw note', async () => {
        const c = await support();
        await c.query('BEGIN');
        const declared = await probe(c, `DECLARE rt5_notes CURSOR FOR SELECT notes FROM clinical.visits WHERE id = ${VISIT_ID}`);
        const fetched = await probe(c, 'FETCH ALL FROM rt5_notes');
        await c.query('ROLLBACK');
        expect(declared.code).toBe('0A000');
        expect(declared.message).toContain('clinical.visits.notes');
        expect(holdsNoteIdentifier(JSON.stringify([declared, fetched]))).toBe(false);
        // WITH HOLD, outside a transaction block: refused the same way.
        const held = await probe(c, `DECLARE rt5_held CURSOR WITH HOLD FOR SELECT upper(notes) FROM clinical.visits WHERE id = ${VISIT_ID}`);
        expect(held.code).toBe('0A000');
        expect(holdsNoteIdentifier(JSON.stringify(await probe(c, 'FETCH ALL FROM rt5_held')))).toBe(false);
      });

      // CLOSED: R5-5 (critical). Was: the CSV below came back as -Callback (415) 555--0142; SSN 219--09--9999; ...-
      it('R5-5: COPY options that reshape the note are refused; plain COPY is scanned', async () => {
        const token = await rt.gateway.token('support-red5-copy', ['agents', 'support']);
        for (const options of ["FORMAT csv, QUOTE '-', FORCE_QUOTE *", "FORMAT csv, QUOTE '9', FORCE_QUOTE *", "FORMAT csv, ESCAPE '@', QUOTE '@'", "DELIMITER '-'", "ENCODING 'EUC_JP'", 'FORMAT binary']) {
          const sql = `COPY clinical.visits (notes) TO STDOUT WITH (${options})`;
          const r = await psqlVia(rt.gateway.port, token, ['-c', sql]);
          expect.soft(r.stderr, sql).toContain('Gatehouse does not run COPY with');
          expect.soft(r.code, sql).not.toBe(0);
          const out = r.stdout.toString('utf8') + r.stderr;
          expect.soft(holdsNoteIdentifier(out.replaceAll('--', '-').replaceAll('99', '9').replaceAll('@@', '@')), sql).toBe(false);
          expect.soft(out, sql).not.toContain('219--09');
        }
        const plain = await psqlVia(rt.gateway.port, token, ['-c', `COPY (SELECT notes FROM clinical.visits WHERE id = ${VISIT_ID}) TO STDOUT WITH (FORMAT csv, DELIMITER ';', FORCE_QUOTE *)`]);
        expect(plain.code, plain.stderr).toBe(0);
        expect(plain.stdout.toString('utf8')).toContain('[SSN]');
        expect(holdsNoteIdentifier(plain.stdout.toString('utf8'))).toBe(false);
      });

      // CLOSED: R5-6 (critical). Was: the DataRow of the whole row held "... SSN 219-09-9999; ...".
      it('R5-6: binary results of whole rows, arrays and domains over the note carry no identifier', async () => {
        const token = await rt.gateway.token('support-red5-binary', ['agents', 'support']);
        for (const text of [
          `SELECT v FROM clinical.visits v WHERE id = ${VISIT_ID}`,
          `SELECT ARRAY[notes] AS a, row(notes, 1) AS r FROM clinical.visits WHERE id = ${VISIT_ID}`,
          `SELECT notes::information_schema.character_data AS d FROM clinical.visits WHERE id = ${VISIT_ID}`,
          `SELECT notes::bytea AS b, to_jsonb(v) AS j FROM clinical.visits v WHERE id = ${VISIT_ID}`,
        ]) {
          const c = await WireClient.connect(rt.gateway.port, token);
          c.send(Buffer.concat([serialize.parse({ text }), serialize.bind({ binary: true } as Parameters<typeof serialize.bind>[0]), serialize.describe({ type: 'P' }), serialize.execute({}), serialize.sync()]));
          const [group] = await c.untilReady(1);
          const rows = (group ?? []).filter((m) => m.name === 'dataRow');
          expect.soft(rows.length, text).toBe(1);
          const bytes = JSON.stringify(rows.map((m) => (m.fields ?? []).map((f) => (Buffer.isBuffer(f) ? f.toString('latin1') : f))));
          expect.soft(holdsNoteIdentifier(bytes), text).toBe(false);
        }
      });

      // Was: Parse, Bind, Execute without a Describe ended the session (XX000 "masked result without a
      // row description"): Gatehouse asked for the portal's columns only when masks applied.
      it('Bind and Execute without a Describe (as prepared-statement clients do) are scanned, and the session goes on', async () => {
        const token = await rt.gateway.token('support-red5-nodescribe', ['agents', 'support']);
        const c = await WireClient.connect(rt.gateway.port, token);
        for (const binary of [false, true]) {
          c.send(Buffer.concat([serialize.parse({ text: `SELECT notes FROM clinical.visits WHERE id = ${VISIT_ID}` }), serialize.bind({ binary } as Parameters<typeof serialize.bind>[0]), serialize.execute({}), serialize.sync()]));
          const [group] = await c.untilReady(1);
          const names = (group ?? []).map((m) => m.name);
          expect(names, `binary ${binary}`).toEqual(['parseComplete', 'bindComplete', 'dataRow', 'commandComplete', 'readyForQuery']);
          const value = (group ?? []).find((m) => m.name === 'dataRow')?.fields?.[0];
          const text = Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
          expect(text).toContain('[SSN]');
          expect(holdsNoteIdentifier(text)).toBe(false);
        }
      });

      // CLOSED: R5-7 (critical).
      it('R5-7: a setting cannot carry the note out (ParameterStatus, SHOW)', async () => {
        const token = await rt.gateway.token('support-red5-setting', ['agents', 'support']);
        const c = await WireClient.connect(rt.gateway.port, token);
        const seen: unknown[] = [];
        for (const q of [
          `SELECT set_config('application_name', notes, false) FROM clinical.visits WHERE id = ${VISIT_ID}`,
          `SELECT set_config('application_name', (SELECT substr(notes, 30) FROM clinical.visits WHERE id = ${VISIT_ID}), false)`,
          'SHOW application_name',
          "SELECT current_setting('application_name')",
        ]) {
          c.send(serialize.query(q));
          const [group] = await c.untilReady(1);
          seen.push(...(group ?? []));
        }
        const errors = seen.filter((m) => (m as { name: string }).name === 'error') as Array<{ code?: string }>;
        expect(errors.map((e) => e.code)).toEqual(['0A000', '0A000']);
        expect(holdsNoteIdentifier(JSON.stringify(seen))).toBe(false);
        expect(JSON.stringify(seen)).not.toContain('jane.roe');
      });

      // CLOSED: R5-8 (critical). Was: the raw note from both. Since detection happens at the source
      // (R5-3), a view's columns cannot be scanned there, and scanning them on the way out is undone by
      // any reshaping expression (`SELECT reverse(notes) FROM view`): a view over a scanned table is
      // refused, as under a mask, and the message names it.
      it('R5-8: a view or materialized view over the scanned table is refused, naming it', async () => {
        const c = await support();
        for (const sql of [
          `SELECT notes, copied FROM clinical.rt5_notes_v WHERE id = ${VISIT_ID}`,
          `SELECT notes FROM clinical.rt5_notes_mv WHERE id = ${VISIT_ID}`,
          `SELECT m.notes FROM clinical.visits v JOIN clinical.rt5_notes_mv m USING (id) WHERE v.id = ${VISIT_ID}`,
          `SELECT reverse(copied) FROM clinical.rt5_notes_v WHERE id = ${VISIT_ID}`,
        ]) {
          const r = await probe(c, sql);
          expect.soft(r.code, `${sql}: ${r.message}`).toBe('0A000');
          expect.soft(r.message, sql).toMatch(/view clinical\.rt5_notes_m?v reads masked table clinical\.visits/);
          expect.soft(holdsNoteIdentifier(JSON.stringify(r)) || holdsNoteIdentifier([...JSON.stringify(r)].reverse().join('')), sql).toBe(false);
        }
      });

      // CLOSED: R5-3 (critical). Each of these carried the note's identifiers out (the first nine and
      // the predicate were found by the red team, the rest added with the fix). Detection now happens
      // at the source: the rewrite gives PostgreSQL the notes with identifiers already replaced.
      for (const change of SHAPE_CHANGES) {
        it(`R5-3: ${change.name} over the note does not carry its identifiers out`, async () => {
          const c = await support();
          const r: ProbeOutcome = await probe(c, change.sql);
          expect(r.code, r.message ?? '').toBeNull();
          expect(holdsNoteIdentifier(change.decode(r.rows as Record<string, unknown>[]))).toBe(false);
        });
      }

      it('R5-3: an error message over a reshaped note carries no identifier', async () => {
        const c = await support();
        const r = await probe(c, `SELECT reverse(notes)::int FROM clinical.visits WHERE id = ${VISIT_ID}`);
        expect(r.code).toBe('22P02');
        expect(holdsNoteIdentifier([...(r.message ?? '')].reverse().join(''))).toBe(false);
        expect(r.message).toContain(']NSS[');
      });

      it('R5-3: scanned at the source, the note keeps its text and its labels', async () => {
        const c = await support();
        const r = await c.query(`SELECT reverse(reverse(notes)) AS n, length(notes) AS l FROM clinical.visits WHERE id = ${VISIT_ID}`);
        expect(r.rows[0].n).toBe('Callback [PHONE]; SSN [SSN]; wrote to [EMAIL] about the results.');
        expect(r.rows[0].l).toBe(r.rows[0].n.length);
      });

      it('R5-3: a predicate on the note is no oracle for its identifiers', async () => {
        const c = await support();
        const hit = await c.query(`SELECT count(*)::int AS n FROM clinical.visits WHERE id = ${VISIT_ID} AND notes LIKE '%' || $1 || '%'`, [NOTE_SSN]);
        // The client learns that this exact SSN is in the note; a masked note would not match.
        expect(hit.rows[0].n).toBe(0);
      });
    });
  });
}

/** A policy set where `writers` read clinical.patients with the agents' masks and may write it. */
function writersPolicies(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-redteam5-policies-'));
  const examples = join(REPO_ROOT, 'policies', 'rego');
  for (const f of readdirSync(examples)) if (f.endsWith('.rego') && !f.endsWith('_test.rego')) copyFileSync(join(examples, f), join(dir, f));
  writeFileSync(
    join(dir, 'redteam5_writers.rego'),
    `package gatehouse

mask contains {"id": "rt5-writers-masked", "reason": "writers read patients masked", "on": "read", "table": t, "column": column, "strategy": strategy} if {
	member("writers")
	some t in input.statement.tables_read
	t == "clinical.patients"
	some column, strategy in patient_masks
}

allow contains {"id": "rt5-writers-write", "reason": "writers may write patients", "on": "write", "table": t} if {
	member("writers")
	some t in input.statement.tables_written
	t == "clinical.patients"
}
`,
  );
  return dir;
}

describe('red team round 5: writes to a masked table (an identity that reads it masked and may write it)', () => {
  let t: TestGateway;
  let direct: pg.Client;
  let writer: pg.Client;
  let ssns: string[];

  beforeAll(async () => {
    t = await startTestGateway({ engine: 'rego', policiesDir: writersPolicies() });
    direct = new pg.Client({ connectionString: t.upstreamUrl });
    await direct.connect();
    ssns = (await direct.query('SELECT ssn FROM clinical.patients')).rows.map((r) => r.ssn as string);
    writer = await t.client(await t.token('writer-red5', ['writers']));
  });
  afterAll(async () => {
    await direct?.end();
    await t?.close();
  });

  it('its reads are masked (the premise)', async () => {
    expect((await writer.query('SELECT ssn FROM clinical.patients WHERE id IN (1, 2)')).rows).toEqual([{ ssn: '***' }, { ssn: '***' }]);
  });

  // CLOSED: R5-4 (high). Was: the UPDATE ran unmasked and RETURNING carried the real SSN, email and
  // phone. A write's target is now read in the policy input (sql/walk.ts), so its masks apply, and a
  // write that may read a masked column of its target is refused with 42501 naming the columns.
  it('R5-4: UPDATE ... RETURNING of masked columns is refused (42501), naming the columns', async () => {
    for (const sql of [
      'UPDATE clinical.patients SET first_name = first_name WHERE id = 1 RETURNING ssn, email, phone',
      'UPDATE clinical.patients p SET first_name = p.first_name WHERE p.id = 1 RETURNING p',
      'DELETE FROM clinical.patients WHERE id = -1 RETURNING *',
      "INSERT INTO clinical.patients (id, mrn, first_name, last_name, ssn, date_of_birth, phone, email, address, diagnosis_code) VALUES (1, 'm', 'a', 'b', 'c', date '2000-01-01', 'p', 'e', 'x', 'd') ON CONFLICT (id) DO UPDATE SET first_name = clinical.patients.first_name RETURNING to_jsonb(clinical.patients)",
      'WITH u AS (UPDATE clinical.patients SET first_name = first_name WHERE id = 1 RETURNING email) SELECT count(*) FROM u',
      "MERGE INTO clinical.patients t USING (SELECT 1 AS id, 'x' AS s) v ON t.id = v.id AND t.ssn LIKE v.s WHEN MATCHED THEN UPDATE SET first_name = t.first_name",
    ]) {
      const r = await probe(writer, sql);
      expect.soft(r.code, sql).toBe('42501');
      expect.soft(ssns.some((v) => JSON.stringify(r).includes(v)), sql).toBe(false);
    }
    const named = await probe(writer, 'UPDATE clinical.patients SET first_name = first_name WHERE id = 1 RETURNING ssn, email');
    expect(named.message).toContain('"ssn"');
    expect(named.message).toContain('"email"');
  });

  it('R5-4: the WHERE of a write is not an oracle on raw masked values', async () => {
    // One statement per guess of the first digit; a raw WHERE would match for one digit.
    let matched = 0;
    const codes = new Set<string | null>();
    for (const d of '0123456789') {
      const r = await probe(writer, `UPDATE clinical.patients SET first_name = first_name WHERE id = 1 AND ssn LIKE '${d}%' RETURNING id`);
      matched += r.rows.length;
      codes.add(r.code);
    }
    expect(matched).toBe(0);
    expect([...codes]).toEqual(['42501']);
  });

  it('a write that reads no masked column runs, and its errors do not quote the stored row', async () => {
    const before = (await direct.query('SELECT diagnosis_code FROM clinical.patients WHERE id = 1')).rows[0].diagnosis_code as string;
    const ok = await probe(writer, "UPDATE clinical.patients SET diagnosis_code = 'Z00.0' WHERE id = 1 RETURNING id, diagnosis_code");
    expect(ok.code, ok.message ?? '').toBeNull();
    expect(ok.rows).toEqual([{ id: 1, diagnosis_code: 'Z00.0' }]);
    await direct.query('UPDATE clinical.patients SET diagnosis_code = $1 WHERE id = 1', [before]);
    // PostgreSQL's detail would be "Failing row contains (1, MRN-..., ..., 219-..., ...)": withheld.
    const failed = await writer.query('UPDATE clinical.patients SET diagnosis_code = NULL WHERE id = 1').then(
      () => null,
      (e: pg.DatabaseError) => e,
    );
    expect(failed?.code).toBe('23502');
    expect(failed?.detail ?? '').toContain('Gatehouse withheld the detail');
    expect(ssns.some((v) => JSON.stringify({ ...failed, message: failed?.message }).includes(v))).toBe(false);
  });
});
