// Masking at the source (enforce/mask-rewrite.ts), attacked: an `agents` identity reads
// clinical.patients under the example HIPAA masks, through Gatehouse to the real PostgreSQL, with
// both engines. Every probe below tries to get a seeded identifier out (rows, errors, notices,
// COPY data, plans); none may. What the old design over-refused now runs, on masked values.
// Probes in PROBES run or fail as they will: the assertion is that nothing they return leaks.

import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { startTestGateway } from './support/harness.ts';
import { probe, useRedTeam } from './support/redteam.ts';
import { psqlVia } from './support/run-tool.ts';

/** Bypass attempts that must run (masked values in, masked values out). */
const MUST_RUN_MASKED: string[] = [
  // The two critical scoping bypasses of the old column-use walker.
  "SELECT j.x FROM (clinical.patients p JOIN clinical.visits v ON v.patient_id = p.id) AS j(a, b, c, d, x) WHERE j.x LIKE '9%'",
  'SELECT j.e FROM (clinical.patients p JOIN clinical.visits v ON v.patient_id = p.id) AS j(i, m, f, l, e) ORDER BY j.e',
  "SELECT patients.ssn FROM (clinical.patients JOIN clinical.visits ON visits.patient_id = patients.id) AS patients WHERE patients.ssn > '5'",
  'SELECT patients.ssn FROM clinical.visits p JOIN clinical.patients ON true LIMIT 5',
  // Predicates, ordering, grouping, windows on masked columns.
  "SELECT id FROM clinical.patients WHERE ssn LIKE '1%'",
  'SELECT id FROM clinical.patients ORDER BY ssn',
  'SELECT id FROM clinical.patients ORDER BY ssn DESC, id',
  'SELECT count(*) FROM clinical.patients GROUP BY first_name',
  'SELECT id, row_number() OVER (ORDER BY phone) FROM clinical.patients',
  'SELECT id, rank() OVER (PARTITION BY ssn ORDER BY ssn) FROM clinical.patients',
  "SELECT id FROM clinical.visits LIMIT (SELECT ascii(ssn) - 40 FROM clinical.patients WHERE id = 1)",
  "SELECT id FROM clinical.patients WHERE email = 'someone@example.com'",
  'SELECT id, generate_series(1, ascii(ssn)) FROM clinical.patients',
  "SELECT p.id, val.id AS val FROM clinical.patients p JOIN clinical.visits pos ON pos.id BETWEEN 1 AND 11 JOIN clinical.visits val ON val.id = ascii(substr(p.ssn, pos.id, 1)) - 44 ORDER BY p.id, pos.id",
  'SELECT DISTINCT ON (email) id FROM clinical.patients',
  'SELECT count(*) FROM clinical.patients GROUP BY ROLLUP (ssn)',
  "SELECT id FROM clinical.patients WHERE (ssn, id) > ('5', 0)",
  "SELECT id FROM clinical.patients ORDER BY CASE WHEN ssn LIKE '1%' THEN 0 END",
  // Timing and error oracles.
  "SELECT id, md5(repeat('x', (ascii(substr(ssn, 2, 1)) - 40) * 1000)) FROM clinical.patients",
  "SELECT id, CASE WHEN ssn LIKE '1%' THEN 1 / (id - id) ELSE 1 END FROM clinical.patients",
  // Computations, casts, aggregates, whole rows.
  'SELECT upper(ssn), lower(first_name), length(ssn), octet_length(ssn) FROM clinical.patients',
  "SELECT ssn || '', ssn::varchar(11), ssn COLLATE \"C\", ssn::bytea FROM clinical.patients",
  'SELECT row_to_json(p), to_jsonb(p), p::text FROM clinical.patients p',
  'SELECT json_agg(p), array_agg(ssn ORDER BY ssn), string_agg(ssn, \',\') FROM clinical.patients p',
  'SELECT p FROM clinical.patients p',
  'SELECT (p).ssn, (p).phone, p.* FROM clinical.patients p',
  'SELECT xmlelement(name a, ssn), xmlforest(ssn, phone) FROM clinical.patients',
  'SELECT max(ssn) OVER (), min(email) OVER () FROM clinical.patients',
  // Every way of naming the table.
  'TABLE clinical.patients',
  'SELECT * FROM ONLY clinical.patients',
  'SELECT * FROM ONLY (clinical.patients) x',
  'SELECT * FROM clinical.patients *',
  'SELECT s FROM clinical.patients AS p(i, m, f, l, s)',
  'SELECT "ssn" FROM "clinical"."patients"',
  'SELECT U&"ss\\006E" FROM clinical.patients',
  'SELECT ssn FROM clinical . /* hidden */ patients',
  'SELECT ssn FROM postgres.clinical.patients',
  // Nesting: subqueries, CTEs (recursive too), LATERAL, set operations, VALUES.
  'WITH x AS (SELECT * FROM clinical.patients) SELECT ssn FROM x',
  'WITH RECURSIVE r(n, s) AS (SELECT 1, ssn FROM clinical.patients WHERE id = 1 UNION ALL SELECT n + 1, s FROM r WHERE n < 3) SELECT * FROM r',
  'WITH a AS (SELECT ssn FROM clinical.patients), b AS (SELECT * FROM a) SELECT * FROM b',
  'SELECT l.s FROM clinical.visits v, LATERAL (SELECT ssn AS s FROM clinical.patients p WHERE p.id = v.patient_id) l',
  'SELECT v.id, (SELECT ssn FROM clinical.patients p WHERE p.id = v.patient_id) FROM clinical.visits v',
  'SELECT diagnosis_code FROM clinical.patients UNION SELECT ssn FROM clinical.patients',
  'SELECT ssn FROM clinical.patients INTERSECT SELECT ssn FROM clinical.patients',
  'SELECT ssn FROM clinical.patients EXCEPT SELECT \'x\'',
  "SELECT p.id FROM clinical.patients p JOIN (SELECT q.mrn AS m FROM clinical.patients q UNION ALL SELECT 'MRN-1') g ON p.mrn = g.m",
  "SELECT p.id FROM clinical.patients p, LATERAL (VALUES (p.mrn), ('MRN-1')) g(m) WHERE p.mrn = g.m",
  'SELECT * FROM ROWS FROM (unnest(ARRAY(SELECT ssn FROM clinical.patients)))',
  'SELECT id FROM clinical.visits WHERE patient_id IN (SELECT id FROM clinical.patients WHERE ssn IS NOT NULL)',
  'SELECT EXISTS (SELECT 1 FROM clinical.patients WHERE ssn = ssn)',
  // Side effects carry only masked values (set_config itself: only on allow-listed settings).
  "SELECT set_config('application_name', ssn, false) FROM clinical.patients WHERE id = 1",
  // EXPLAIN shows plans over the derived table, not data.
  "EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM clinical.patients WHERE ssn LIKE '1%'",
  "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) SELECT id FROM clinical.patients WHERE ssn = 'x'",
];

for (const engine of ['rego', 'cedar'] as const) {
  describe(`masking at the source, attacked (${engine} engine)`, () => {
    const rt = useRedTeam(engine, 'agent-source', {
      setupSql: `
        CREATE OR REPLACE VIEW clinical.patient_contacts AS SELECT id, ssn, phone FROM clinical.patients;
        CREATE OR REPLACE VIEW public.innocent AS SELECT id, ssn AS code FROM clinical.patients;
        CREATE OR REPLACE FUNCTION public.ssn_of(pid int) RETURNS text LANGUAGE sql STABLE AS $$ SELECT ssn FROM clinical.patients WHERE id = pid $$;
        CREATE OR REPLACE FUNCTION public.ssn_definer(pid int) RETURNS text LANGUAGE sql STABLE SECURITY DEFINER AS $$ SELECT ssn FROM clinical.patients WHERE id = pid $$;
        CREATE OR REPLACE FUNCTION public.ssn_plpgsql(pid int) RETURNS text LANGUAGE plpgsql AS $$ BEGIN RETURN (SELECT ssn FROM clinical.patients WHERE id = pid); END $$;
        CREATE TABLE IF NOT EXISTS public.pgbench_rt_unique (v text PRIMARY KEY);
        INSERT INTO public.pgbench_rt_unique VALUES ('***') ON CONFLICT DO NOTHING;`,
      cleanupSql: `DROP VIEW IF EXISTS clinical.patient_contacts; DROP VIEW IF EXISTS public.innocent;
        DROP FUNCTION IF EXISTS public.ssn_of(int); DROP FUNCTION IF EXISTS public.ssn_definer(int); DROP FUNCTION IF EXISTS public.ssn_plpgsql(int);
        DROP TABLE IF EXISTS public.pgbench_rt_unique`,
    });
    const { leaks, agent } = rt;

    it(`${MUST_RUN_MASKED.length} bypass attempts run on masked values and return no identifier`, async () => {
      expect(MUST_RUN_MASKED.length).toBeGreaterThanOrEqual(50);
      const c = await agent();
      const notices: string[] = [];
      c.on('notice', (n) => notices.push(JSON.stringify(n)));
      for (const sql of MUST_RUN_MASKED) {
        const r = await probe(c, sql);
        expect.soft(r.code, `${sql}: ${r.message}`).toBeNull();
        expect.soft(leaks(r), sql).toBe(false);
      }
      expect(leaks(notices)).toBe(false);
    });

    it('predicates, order and oracles test the masked value, so they learn nothing', async () => {
      const c = await agent();
      expect((await c.query("SELECT count(*)::int AS n FROM clinical.patients WHERE ssn LIKE '1%' OR ssn LIKE '9%'")).rows[0].n).toBe(0);
      expect((await c.query('SELECT count(*)::int AS n FROM clinical.patients WHERE ssn = $1', [rt.ssns[0]])).rows[0].n).toBe(0);
      // The join that rebuilt SSNs character by character rebuilds '***' for everyone.
      const rows = (
        await c.query(`SELECT p.id, val.id AS val FROM clinical.patients p JOIN clinical.visits pos ON pos.id BETWEEN 1 AND 11
          JOIN clinical.visits val ON val.id = ascii(substr(p.ssn, pos.id, 1)) - 40 ORDER BY p.id, pos.id`)
      ).rows as { id: number; val: number }[];
      const rebuilt = new Map<number, string>();
      for (const r of rows) rebuilt.set(r.id, (rebuilt.get(r.id) ?? '') + String.fromCharCode(r.val + 40));
      expect(leaks([...rebuilt.values()])).toBe(false);
      // Division by zero under a CASE on the value: '***' never matches, so it never divides.
      const oracle = await probe(c, "SELECT id, CASE WHEN ssn LIKE '1%' THEN 1 / (id - id) ELSE 1 END AS x FROM clinical.patients");
      expect(oracle.code).toBeNull();
    });

    it('what the old design refused now runs and comes back masked', async () => {
      const c = await agent();
      const n = rt.ssns.length;
      expect((await c.query('SELECT count(ssn)::int AS c, max(length(ssn)) AS l, min(upper(ssn)) AS u FROM clinical.patients')).rows).toEqual([{ c: n, l: 3, u: '***' }]);
      const phones = (await c.query("SELECT coalesce(phone, '') AS p FROM clinical.patients ORDER BY id")).rows.map((r) => r.p as string);
      const truth = (await rt.direct.query('SELECT phone FROM clinical.patients ORDER BY id')).rows.map((r) => r.phone as string);
      expect(phones).toEqual(truth.map((p) => '*'.repeat(p.length - 4) + p.slice(-4)));
      const now = await c.query('SELECT id, ssn, now() AS t FROM clinical.patients WHERE id = 1');
      expect(now.rows[0].ssn).toBe('***');
      expect(now.rows[0].t).toBeInstanceOf(Date);
      const years = (await c.query('SELECT extract(year FROM date_of_birth)::int AS y FROM clinical.patients ORDER BY id')).rows.map((r) => r.y);
      const realYears = (await rt.direct.query('SELECT extract(year FROM date_of_birth)::int AS y FROM clinical.patients ORDER BY id')).rows.map((r) => r.y);
      expect(years).toEqual(realYears);
      // GROUP BY a hash-masked column groups like the raw values (a keyed hash keeps equality).
      const grouped = (await c.query('SELECT email, count(*)::int AS n FROM clinical.patients GROUP BY email')).rows;
      const rawGroups = (await rt.direct.query('SELECT count(*)::int AS n FROM clinical.patients GROUP BY email')).rows;
      expect(grouped.length).toBe(rawGroups.length);
      expect(grouped.every((r) => /^h:[0-9a-f]{16}$/.test(r.email as string))).toBe(true);
    });

    it('hash-masked columns join on equality, and the hashes are the same in every session', async () => {
      const a = await agent();
      const b = await agent();
      const sql = 'SELECT id, mrn, email FROM clinical.patients ORDER BY id';
      const first = (await a.query(sql)).rows;
      expect((await b.query(sql)).rows).toEqual(first);
      const joined = await a.query('SELECT a.id FROM clinical.patients a JOIN clinical.patients b ON a.email = b.email ORDER BY a.id');
      expect(joined.rows.length).toBeGreaterThanOrEqual(rt.ssns.length);
    });

    it('views and user routines that read a masked table are refused, naming them', async () => {
      const c = await agent();
      for (const [sql, needle] of [
        ['SELECT ssn FROM clinical.patient_contacts', 'clinical.patient_contacts'],
        ['SELECT ssn_of(1)', 'ssn_of'],
        ['SELECT public.ssn_definer(1), ssn FROM clinical.patients', 'ssn_definer'],
        ['SELECT public.ssn_plpgsql(id) FROM clinical.patients', 'ssn_plpgsql'],
        ['SELECT p.ssn_of FROM clinical.patients p', 'ssn_of'],
        // Functional notation for a column reads like a call of an unknown function: refused, with a hint.
        ['SELECT ssn(p) FROM clinical.patients p', 'ssn'],
      ] as const) {
        const r = await probe(c, sql);
        expect.soft(['0A000', '42501'], `${sql}: ${r.message}`).toContain(r.code);
        if (r.code === '0A000') expect.soft(r.message, sql).toContain(needle);
        expect.soft(leaks(r), sql).toBe(false);
      }
    });

    it('a view outside the masked schema that reads the masked table is refused too', async () => {
      const r = await probe(await agent(), 'SELECT code FROM public.innocent');
      expect(['0A000', '42501']).toContain(r.code);
      expect(leaks(r)).toBe(false);
    });

    it('writes whose target is the masked table are refused; a WITH query named like it is refused', async () => {
      const c = await agent();
      for (const sql of [
        "UPDATE clinical.patients SET phone = phone WHERE ssn = 'x'",
        'DELETE FROM clinical.patients WHERE id = -1 RETURNING ssn',
        'WITH patients AS (SELECT 1 AS ssn) SELECT x.ssn FROM patients x, clinical.patients p',
      ]) {
        const r = await probe(c, sql);
        expect.soft(['0A000', '42501'], sql).toContain(r.code);
        expect.soft(leaks(r), sql).toBe(false);
      }
    });

    it('errors that echo values echo masked ones: invalid cast and unique violation', async () => {
      const c = await agent();
      const cast = await probe(c, 'SELECT ssn::int FROM clinical.patients');
      expect(cast.code).toBe('22P02');
      expect(cast.message).toContain('"***"');
      // An identity that may write the bench tables, still under the agents' masks.
      const writer = await rt.gateway.client(await rt.gateway.token('agent-writer', ['agents', 'bench']));
      const unique = await probe(writer, 'INSERT INTO public.pgbench_rt_unique SELECT ssn FROM clinical.patients');
      expect(unique.code).toBe('23505');
      expect(unique.message).toContain('(v)=(***)');
      expect(leaks([cast, unique])).toBe(false);
      expect((await rt.direct.query('SELECT count(*)::int AS n FROM public.pgbench_rt_unique')).rows[0].n).toBe(1);
    });

    it('COPY of the table and of a query copies masked values (psql, text format)', async () => {
      for (const sql of [
        'COPY clinical.patients TO STDOUT',
        'COPY clinical.patients (id, ssn, email) TO STDOUT WITH (FORMAT csv, HEADER)',
        'COPY (SELECT v.id, (SELECT ssn FROM clinical.patients p WHERE p.id = v.patient_id) FROM clinical.visits v) TO STDOUT',
      ]) {
        const r = await psqlVia(rt.gateway.port, rt.token, ['-c', sql]);
        expect.soft(r.code, `${sql}: ${r.stderr}`).toBe(0);
        expect.soft(r.stdout.toString('utf8'), sql).toContain('***');
        expect.soft(leaks(r.stdout.toString('utf8') + r.stderr), sql).toBe(false);
      }
    });

    it('binary results and cursors are masked', async () => {
      const b = await agent({ binary: true } as Partial<pg.ClientConfig>);
      expect((await b.query('SELECT id, ssn FROM clinical.patients WHERE id = $1', [1])).rows).toEqual([{ id: 1, ssn: '***' }]);
      const c = await agent();
      await c.query('BEGIN');
      await c.query('DECLARE rt_cur CURSOR FOR SELECT ssn, phone FROM clinical.patients ORDER BY id');
      const fetched = await c.query('FETCH 5 FROM rt_cur');
      await c.query('COMMIT');
      expect(fetched.rows.map((r) => r.ssn)).toEqual(Array(5).fill('***'));
      expect(leaks(fetched.rows)).toBe(false);
    });

    it('the keyed masking functions and their key cannot be reached by clients', async () => {
      const c = await agent();
      for (const sql of [
        "SELECT gatehouse.gatehouse_mask_hash('123-45-6789')",
        'SELECT * FROM gatehouse.gatehouse_mask_key',
        "SELECT gatehouse_mask_fake('ssn', 'x')",
      ]) {
        expect.soft((await probe(c, sql)).code, sql).toBe('42501');
      }
      const src = await probe(c, "SELECT prosrc FROM pg_catalog.pg_proc WHERE proname LIKE 'gatehouse_mask%'");
      const key = (await rt.direct.query('SELECT encode(ipad, \'hex\') AS i, encode(opad, \'hex\') AS o FROM gatehouse.gatehouse_mask_key')).rows[0];
      expect(JSON.stringify(src)).not.toContain(key.i);
      expect(JSON.stringify(src)).not.toContain(key.o);
    });

    it('search_path tricks resolve to the same masked table', async () => {
      const c = await agent();
      await c.query('SET search_path = clinical, public');
      expect(leaks(await probe(c, 'SELECT ssn FROM patients'))).toBe(false);
      await c.query('SET search_path = public, clinical');
      expect(leaks(await probe(c, 'SELECT ssn FROM patients'))).toBe(false);
    });
  });
}

describe('keyed hashes are stable across gateways and restarts with the same database key', () => {
  it('two gateways in turn give the same hashes', async () => {
    const read = async (): Promise<unknown[]> => {
      const t = await startTestGateway();
      try {
        const c = await t.client(await t.token('agent-hash', ['agents']));
        return (await c.query('SELECT id, mrn, email FROM clinical.patients ORDER BY id')).rows;
      } finally {
        await t.close();
      }
    };
    const first = await read();
    expect(first.length).toBeGreaterThan(0);
    expect(await read()).toEqual(first);
  });
});
