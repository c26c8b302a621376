// Fourth red-team round, against masking at the source (commit 0b4cf8d): an identity in `agents`
// reads clinical.patients under the example HIPAA masks through Gatehouse to the real PostgreSQL
// (pg client), with both engines, and tries to get a real SSN, a raw masked value or a hash oracle.
//
// Every test asserts the SECURE behaviour. All three findings are fixed; their tests stay as
// regression tests (each says CLOSED and how):
//   R4-1 a view that calls a user-defined function reading clinical.patients returns raw SSNs
//   R4-2 a view that calls a SQL-text built-in (query_to_xml, ts_stat) returns raw SSNs
//   R4-3 the keyed hash is one HMAC of the value for every table and column: a hash-masked column
//        an identity can write is an oracle that recovers clinical.patients.mrn by joining
// The "blocked" block holds probes of this round that Gatehouse already stops (regression tests).
//
// Run: GATEHOUSE_TEST_DB=gh_redteam4 npx vitest run gateway/test/redteam-round4.test.ts

import { describe, expect, it } from 'vitest';
import { probe, useRedTeam } from './support/redteam.ts';

/** Objects a DBA might plausibly have in the clinical schema (agents may read clinical.* other than patients). */
const SETUP = `
  CREATE OR REPLACE FUNCTION public.rt4_ssn_of(pid int) RETURNS text LANGUAGE sql STABLE AS $$ SELECT ssn FROM clinical.patients WHERE id = pid $$;
  CREATE OR REPLACE FUNCTION public.rt4_all_ssns() RETURNS SETOF text LANGUAGE plpgsql STABLE AS $$ BEGIN RETURN QUERY SELECT ssn FROM clinical.patients; END $$;
  CREATE OR REPLACE VIEW clinical.rt4_visit_ids AS SELECT v.id, public.rt4_ssn_of(v.patient_id) AS s FROM clinical.visits v;
  CREATE OR REPLACE VIEW clinical.rt4_setof AS SELECT s FROM public.rt4_all_ssns() s;
  CREATE OR REPLACE VIEW clinical.rt4_xml AS SELECT query_to_xml('SELECT ssn FROM clinical.patients', false, false, '') AS x;
  CREATE OR REPLACE VIEW clinical.rt4_words AS SELECT word FROM ts_stat('SELECT to_tsvector(''simple'', translate(ssn, ''-'', '''')) FROM clinical.patients');
  CREATE OR REPLACE VIEW clinical.rt4_contacts AS SELECT id, ssn, phone FROM clinical.patients;
  CREATE OR REPLACE VIEW clinical.rt4_nested AS SELECT * FROM clinical.rt4_contacts;
  CREATE OR REPLACE VIEW clinical.rt4_sublink AS SELECT v.id, (SELECT ssn FROM clinical.patients p WHERE p.id = v.patient_id) AS s FROM clinical.visits v;
  DROP MATERIALIZED VIEW IF EXISTS clinical.rt4_mv;
  CREATE MATERIALIZED VIEW clinical.rt4_mv AS SELECT id, ssn FROM clinical.patients;
  CREATE OR REPLACE VIEW clinical.rt4_over_mv AS SELECT * FROM clinical.rt4_mv;
  CREATE TABLE IF NOT EXISTS public.pgbench_masked_people (id int PRIMARY KEY, name text, ssn text, email text, phone text, note text);
  DELETE FROM public.pgbench_masked_people WHERE id < 0;`;

const CLEANUP = `
  DROP VIEW IF EXISTS clinical.rt4_visit_ids, clinical.rt4_setof, clinical.rt4_xml, clinical.rt4_words, clinical.rt4_nested,
    clinical.rt4_contacts, clinical.rt4_sublink, clinical.rt4_over_mv;
  DROP MATERIALIZED VIEW IF EXISTS clinical.rt4_mv;
  DROP FUNCTION IF EXISTS public.rt4_ssn_of(int), public.rt4_all_ssns();
  DELETE FROM public.pgbench_masked_people WHERE id < 0;`;

for (const engine of ['rego', 'cedar'] as const) {
  describe(`red team round 4, ${engine} engine`, () => {
    const rt = useRedTeam(engine, 'agent-red4', { setupSql: SETUP, cleanupSql: CLEANUP });
    const { leaks, agent } = rt;
    /** Whether `x` holds a real SSN with or without its dashes. */
    const leaksDigits = (x: unknown): boolean => {
      const s = JSON.stringify(x);
      return rt.ssns.some((v) => s.includes(v) || s.includes(v.replaceAll('-', '')));
    };

    describe('bypasses found in round 4', () => {
      // CLOSED: R4-1 a view in an agent-readable schema that calls a user-defined function (SQL or
      // PL/pgSQL, in its SELECT list or FROM) which reads clinical.patients returned raw SSNs. The
      // policy input now lists the functions a view calls (pg_depend of its rewrite rule,
      // transitively) in functions and user_functions, so deny-user-functions applies.
      it('R4-1: a view calling a user-defined function that reads the masked table is refused', async () => {
        const c = await agent();
        for (const sql of [
          'SELECT * FROM clinical.rt4_visit_ids LIMIT 3',
          'SELECT v.id, f.s FROM clinical.visits v JOIN clinical.rt4_visit_ids f ON f.id = v.id LIMIT 3',
          'SELECT * FROM clinical.rt4_setof',
        ]) {
          const r = await probe(c, sql);
          expect.soft(['0A000', '42501'], `${sql}: ${JSON.stringify(r.rows).slice(0, 120)}`).toContain(r.code);
          expect.soft(leaks(r), sql).toBe(false);
        }
      });

      // CLOSED: R4-2 a view that calls a built-in running SQL given as text (query_to_xml, ts_stat)
      // returned raw SSNs: the view's calls are now in the policy input's functions, so
      // runs_sql_text is set and deny-sql-text applies.
      it('R4-2: a view calling query_to_xml or ts_stat over the masked table is refused', async () => {
        const c = await agent();
        for (const sql of ['SELECT x FROM clinical.rt4_xml', 'SELECT word FROM clinical.rt4_words']) {
          const r = await probe(c, sql);
          expect.soft(['0A000', '42501'], `${sql}: ${JSON.stringify(r.rows).slice(0, 120)}`).toContain(r.code);
          expect.soft(leaksDigits(r), sql).toBe(false);
        }
      });

      // CLOSED: R4-3 gatehouse_mask_hash(v) was HMAC(key, v) with one key for the whole database and
      // no table, column or strategy in the input, so equal values hashed equally across tables. An
      // identity that may write a hash-masked column (example policies: bench + bench_masked on
      // public.pgbench_masked_people.email) writes guesses there; its masked reads then hash them
      // with the same key, and a join against clinical.patients.mrn (hash) names each patient's MRN
      // (MRN-1nnnnn: a small space). Also worked across two identities, comparing hashes offline.
      // Now every keyed value is HMAC(key, "schema.table.column" || 0 || purpose || 0 || value).
      it('R4-3: a writable hash-masked column is not a hash oracle for clinical.patients.mrn', async () => {
        const realMrns = (await rt.direct.query('SELECT id, mrn FROM clinical.patients ORDER BY id')).rows as { id: number; mrn: string }[];
        const c = await rt.gateway.client(await rt.gateway.token('agent-red4-bench', ['agents', 'bench', 'bench_masked']));
        // The guesses: every MRN of the seed's format in a range (a write that reads no table: no mask applies).
        const insert = await probe(c, "INSERT INTO public.pgbench_masked_people (id, email) SELECT -n, 'MRN-' || n FROM generate_series(100000, 100200) n");
        expect(insert.code, insert.message ?? '').toBeNull();
        const r = await probe(c, 'SELECT p.id, -b.id AS guess FROM clinical.patients p JOIN public.pgbench_masked_people b ON p.mrn = b.email WHERE b.id < 0 ORDER BY p.id');
        const recovered = (r.rows as { id: number; guess: number }[]).filter((row) => realMrns.some((m) => m.id === row.id && m.mrn === `MRN-${row.guess}`));
        expect(recovered, 'patients whose real MRN the join recovered').toEqual([]);
        // The same with two identities that never hold both rights: the agents' hashes compared offline.
        const agentHashes = new Set(((await (await agent()).query('SELECT mrn FROM clinical.patients')).rows as { mrn: string }[]).map((x) => x.mrn));
        const bench = await rt.gateway.client(await rt.gateway.token('bench-red4', ['bench', 'bench_masked']));
        const guesses = (await bench.query('SELECT email FROM public.pgbench_masked_people WHERE id < 0')).rows as { email: string }[];
        expect(guesses.filter((g) => agentHashes.has(g.email))).toEqual([]);
      });
    });

    describe('blocked in round 4 (regression tests)', () => {
      it('views reading the masked table through views, sublinks and materialized views are refused, naming them', async () => {
        const c = await agent();
        for (const [sql, needle] of [
          ['SELECT * FROM clinical.rt4_nested', 'clinical.rt4_nested'],
          ['SELECT v.id, n.ssn FROM clinical.visits v JOIN clinical.rt4_nested n ON n.id = v.patient_id', 'clinical.rt4_nested'],
          ['SELECT * FROM clinical.rt4_sublink', 'clinical.rt4_sublink'],
          ['SELECT * FROM clinical.rt4_mv', 'clinical.rt4_mv'],
          ['SELECT * FROM clinical.rt4_over_mv', 'clinical.rt4_over_mv'],
          ['COPY clinical.rt4_mv TO STDOUT', 'clinical.rt4_mv'],
        ] as const) {
          const r = await probe(c, sql);
          expect.soft(r.code, sql).toBe('0A000');
          expect.soft(r.message, sql).toContain(needle);
          expect.soft(leaks(r), sql).toBe(false);
        }
      });

      it('a user-defined function named in the statement is denied even without the masked table', async () => {
        const c = await agent();
        for (const sql of ['SELECT public.rt4_ssn_of(1)', 'SELECT public.rt4_ssn_of(patient_id) FROM clinical.visits', 'SELECT * FROM public.rt4_all_ssns()']) {
          const r = await probe(c, sql);
          expect.soft(['0A000', '42501'], sql).toContain(r.code);
          expect.soft(leaks(r), sql).toBe(false);
        }
      });

      it('TABLESAMPLE on the masked table is refused; USING, NATURAL JOIN, ROWS FROM and XMLTABLE run masked', async () => {
        const c = await agent();
        const sample = await probe(c, 'SELECT * FROM clinical.patients TABLESAMPLE SYSTEM (100)');
        expect(sample.code).toBe('0A000');
        for (const sql of [
          'SELECT p.ssn FROM clinical.visits v JOIN clinical.patients p USING (id)',
          "SELECT * FROM clinical.patients NATURAL JOIN (SELECT '***'::varchar AS ssn) x",
          'SELECT * FROM ROWS FROM (generate_series(1, 2)), clinical.patients',
          "SELECT * FROM XMLTABLE('/a' PASSING (SELECT xmlelement(name a, ssn) FROM clinical.patients LIMIT 1) COLUMNS x text PATH '.')",
          'TABLE ONLY clinical.patients',
        ]) {
          const r = await probe(c, sql);
          expect.soft(r.code, `${sql}: ${r.message}`).toBeNull();
          expect.soft(leaks(r), sql).toBe(false);
        }
      });

      it('system columns of the masked table are not reachable through its derived table', async () => {
        const r = await probe(await agent(), 'SELECT tableoid, ctid, xmin, ssn FROM clinical.patients');
        expect(r.code).toBe('42703');
        expect(leaks(r)).toBe(false);
      });

      it('the keyed hash cannot be called by regproc, ROWS FROM or a quoted name; cursor_to_xml and logical decoding are denied', async () => {
        const c = await agent();
        for (const sql of [
          'SELECT x FROM ROWS FROM ("gatehouse"."gatehouse_mask_hash"(\'MRN-100001\')) AS x',
          'SELECT "gatehouse_mask_hash"(\'MRN-100001\')',
          "SELECT * FROM pg_create_logical_replication_slot('rt4slot', 'test_decoding', true)",
          "SELECT * FROM pg_catalog.pg_logical_slot_peek_changes('rt4slot', NULL, NULL)",
          'SELECT stavalues1::text FROM pg_catalog.pg_statistic',
        ]) {
          expect.soft((await probe(c, sql)).code, sql).toBe('42501');
        }
        await c.query('BEGIN');
        await c.query('DECLARE rt4_cur CURSOR FOR SELECT ssn, email FROM clinical.patients');
        const xml = await probe(c, "SELECT cursor_to_xml('rt4_cur', 3, false, false, '')");
        await c.query('ROLLBACK');
        expect(xml.code).toBe('42501');
      });

      it('a search_path changed by FETCH from a cursor that calls set_config is followed', async () => {
        const c = await agent();
        await c.query('BEGIN');
        await c.query("DECLARE rt4_sp CURSOR WITH HOLD FOR SELECT pg_catalog.set_config('search_path', 'clinical', false)");
        await c.query('COMMIT');
        await c.query('FETCH rt4_sp');
        const r = await probe(c, 'SELECT ssn FROM patients LIMIT 3');
        expect(r.code, r.message ?? '').toBeNull();
        expect(r.rows).toEqual([{ ssn: '***' }, { ssn: '***' }, { ssn: '***' }]);
      });

      it('SET search_path or set_config earlier in the same query string does not make an unqualified name read raw', async () => {
        const c = await agent();
        for (const sql of [
          'SET search_path = clinical; SELECT ssn FROM patients',
          "SELECT set_config('search_path', 'clinical', false); SELECT ssn FROM patients",
          'SELECT 1; SET search_path = clinical; SELECT ssn FROM patients',
        ]) {
          const r = await probe(c, sql);
          expect.soft(['0A000', '42501'], sql).toContain(r.code);
          expect.soft(leaks(r), sql).toBe(false);
        }
      });
    });
  });
}
