// Masked values leave only through result columns: a statement under a mask that uses a masked
// column in a predicate, join, grouping or ordering, or that calls something with side effects,
// is refused with 0A000 (enforce/mask-side-channels.ts). Ordinary masked reads still run.
// Against the real PostgreSQL, with node-postgres (simple and extended protocol), both engines.

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureClinicDatabase, sqlstateOf, startTestGateway, type TestGateway } from './support/harness.ts';

/** The red-team query: each output column is visits.id, the SSN only appears in ON. */
const REBUILD_SSN = `SELECT p.id, val.id AS val FROM clinical.patients p
  JOIN clinical.visits pos ON pos.id BETWEEN 1 AND 11
  JOIN clinical.visits val ON val.id = ascii(substr(p.ssn, pos.id, 1)) - 44
 ORDER BY p.id, pos.id`;

for (const engine of ['rego', 'cedar'] as const) {
  describe(`masked values leave only through result columns (${engine} engine)`, () => {
    let t: TestGateway;
    let direct: pg.Client;
    let agent: pg.Client;
    let ssns: string[];
    const leaks = (x: unknown): boolean => ssns.some((s) => JSON.stringify(x).includes(s));

    beforeAll(async () => {
      const upstreamUrl = await ensureClinicDatabase();
      direct = new pg.Client({ connectionString: upstreamUrl });
      await direct.connect();
      // A user-defined function that stores its argument: what any SQL function could do.
      await direct.query(`CREATE TABLE IF NOT EXISTS public.side_sink (v text);
        TRUNCATE public.side_sink;
        CREATE OR REPLACE FUNCTION public.side_keep(v text) RETURNS text LANGUAGE sql VOLATILE
          AS $$ INSERT INTO public.side_sink VALUES (v) RETURNING v $$;
        CREATE SEQUENCE IF NOT EXISTS public.side_seq;`);
      t = await startTestGateway({ engine, upstreamUrl });
      agent = await t.client(await t.token('agent-side', ['agents']));
      ssns = (await direct.query('SELECT ssn FROM clinical.patients')).rows.map((r) => r.ssn as string);
    });
    afterAll(async () => {
      await direct?.query('DROP FUNCTION IF EXISTS public.side_keep(text); DROP TABLE IF EXISTS public.side_sink; DROP SEQUENCE IF EXISTS public.side_seq').catch(() => undefined);
      await direct?.end();
      await t?.close();
    });

    describe('B7: a masked column outside the output expressions', () => {
      it('refuses the join that rebuilds SSNs, in the simple and the extended protocol', async () => {
        expect(await sqlstateOf(agent, REBUILD_SSN)).toBe('0A000');
        expect(await sqlstateOf(agent, `${REBUILD_SSN} LIMIT $1`, [50])).toBe('0A000');
        // The same query through the direct connection does rebuild them: the probe is real.
        const rows = (await direct.query(REBUILD_SSN)).rows as { id: number; val: number }[];
        const rebuilt = new Map<number, string>();
        for (const r of rows) rebuilt.set(r.id, (rebuilt.get(r.id) ?? '') + String.fromCharCode(r.val + 44));
        expect(leaks([...rebuilt.values()])).toBe(true);
      });

      it('says which column and why', async () => {
        const e = await agent.query(REBUILD_SSN).catch((err: unknown) => err as pg.DatabaseError);
        expect((e as pg.DatabaseError).code).toBe('0A000');
        expect((e as pg.DatabaseError).message).toContain('clinical.patients.ssn');
        expect((e as pg.DatabaseError).message).toContain('JOIN');
        expect(leaks(e)).toBe(false);
      });

      it.each([
        "SELECT id FROM clinical.patients WHERE ssn LIKE '1%'",
        'SELECT id FROM clinical.patients ORDER BY ssn',
        'SELECT count(*) FROM clinical.patients GROUP BY first_name',
        'SELECT id, row_number() OVER (ORDER BY phone) FROM clinical.patients',
        'SELECT id FROM clinical.visits LIMIT (SELECT ascii(ssn) - 40 FROM clinical.patients WHERE id = 1)',
        "SELECT id FROM clinical.patients WHERE email = 'someone@example.com'",
        'SELECT id, generate_series(1, ascii(ssn)) FROM clinical.patients',
      ])('refuses %s', async (sql) => {
        expect(await sqlstateOf(agent, sql)).toBe('0A000');
      });
    });

    describe('B9: side effects', () => {
      it('pg_notify is refused and no notification carries an SSN', async () => {
        const listener = new pg.Client({ connectionString: t.upstreamUrl });
        await listener.connect();
        const payloads: string[] = [];
        listener.on('notification', (n) => payloads.push(n.payload ?? ''));
        await listener.query('LISTEN side_channel');
        // The example policies deny pg_notify itself (deny-notify, 42501): either way it does not run.
        expect(['0A000', '42501']).toContain(await sqlstateOf(agent, "SELECT pg_notify('side_channel', ssn) FROM clinical.patients WHERE id = 1"));
        // Notifications arrive in commit order: once this marker is in, an earlier one would be too.
        const marker = new Promise<void>((resolve) => listener.on('notification', (n) => n.payload === 'marker' && resolve()));
        await direct.query("SELECT pg_notify('side_channel', 'marker')");
        await marker;
        await listener.end();
        expect(payloads).toEqual(['marker']);
      });

      it('set_config is refused, so current_setting cannot read an SSN back', async () => {
        // The example policies deny agents a parameter off their allow-list (deny-agent-settings, 42501).
        expect(['0A000', '42501']).toContain(await sqlstateOf(agent, "SELECT set_config('side.v', ssn, false) FROM clinical.patients WHERE id = 1"));
        const r = await agent.query("SELECT current_setting('side.v', true) AS v");
        expect(leaks(r.rows)).toBe(false);
      });

      it('setval, large objects and advisory locks are refused and change nothing', async () => {
        const before = (await direct.query('SELECT count(*)::int AS n FROM pg_largeobject_metadata')).rows[0].n as number;
        expect(await sqlstateOf(agent, "SELECT setval('public.side_seq', ascii(ssn)) FROM clinical.patients WHERE id = 1")).toBe('0A000');
        // Large-object functions may also be denied by the policy itself (42501): either way it does not run.
        expect(['0A000', '42501']).toContain(await sqlstateOf(agent, "SELECT lo_from_bytea(0, convert_to(ssn, 'UTF8')) FROM clinical.patients WHERE id = 1"));
        // Advisory locks may also be denied by the policy itself (42501).
        expect(['0A000', '42501']).toContain(await sqlstateOf(agent, 'SELECT pg_advisory_lock(ascii(ssn)) FROM clinical.patients WHERE id = 1'));
        expect((await direct.query('SELECT is_called FROM public.side_seq')).rows[0].is_called).toBe(false);
        expect((await direct.query('SELECT count(*)::int AS n FROM pg_largeobject_metadata')).rows[0].n).toBe(before);
        expect((await direct.query("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")).rows[0].n).toBe(0);
      });

      it('a user-defined function is refused and stores nothing', async () => {
        expect(await sqlstateOf(agent, 'SELECT public.side_keep(ssn) FROM clinical.patients WHERE id = 1')).toBe('0A000');
        expect(await sqlstateOf(agent, 'SELECT side_keep(ssn) FROM clinical.patients')).toBe('0A000');
        expect((await direct.query('SELECT count(*)::int AS n FROM public.side_sink')).rows[0].n).toBe(0);
      });
    });

    describe('ordinary masked reads still run', () => {
      it('a parameterised lookup by id, ordered by id', async () => {
        const r = await agent.query('SELECT first_name, ssn FROM clinical.patients WHERE id = $1', [2]);
        expect(r.rows).toEqual([{ first_name: '***', ssn: '***' }]);
        const list = await agent.query('SELECT id, ssn, phone FROM clinical.patients ORDER BY id LIMIT 3');
        expect(list.rows.map((x) => x.id)).toEqual([1, 2, 3]);
        expect(leaks(list.rows)).toBe(false);
      });

      it('a join on unmasked keys, count(*), GROUP BY an unmasked column, harmless builtins', async () => {
        const j = await agent.query(
          'SELECT v.id, p.ssn, upper(v.reason) AS l FROM clinical.visits v JOIN clinical.patients p ON p.id = v.patient_id WHERE p.id = 3 ORDER BY v.id',
        );
        const truth = await direct.query('SELECT count(*)::int AS n FROM clinical.visits WHERE patient_id = 3');
        expect(j.rows).toHaveLength(truth.rows[0].n as number);
        expect(leaks(j.rows)).toBe(false);
        expect((await agent.query('SELECT count(*)::int AS n FROM clinical.patients')).rows[0].n).toBe(ssns.length);
        const g = await agent.query('SELECT diagnosis_code, count(*) FROM clinical.patients GROUP BY diagnosis_code ORDER BY 1');
        expect(g.rows.length).toBeGreaterThan(0);
        expect(await sqlstateOf(agent, 'SELECT ssn, random(), now() FROM clinical.patients WHERE id = 1')).toBeNull();
      });

      it('hash-masked columns can still be joined on, but not grouped (grouping orders rows by raw values)', async () => {
        const r = await agent.query(
          'SELECT a.id, b.email FROM clinical.patients a JOIN clinical.patients b ON a.email = b.email WHERE a.id <= 3 ORDER BY a.id',
        );
        expect(r.rows.map((x) => x.id)).toEqual([1, 2, 3]);
        for (const row of r.rows) expect(row.email).toMatch(/^h:[0-9a-f]{16}$/);
        for (const sql of [
          'SELECT email FROM clinical.patients GROUP BY email',
          'SELECT DISTINCT ON (email) id FROM clinical.patients',
          'SELECT email FROM clinical.patients GROUP BY email, diagnosis_code ORDER BY diagnosis_code',
        ]) {
          expect.soft(await sqlstateOf(agent, sql), sql).toBe('0A000');
        }
      });

      it('a hash-masked column compared with a set-operation or VALUES column that may hold a literal is refused', async () => {
        for (const sql of [
          "SELECT p.id FROM clinical.patients p JOIN (SELECT q.mrn AS m FROM clinical.patients q UNION ALL SELECT 'MRN-1') g ON p.mrn = g.m",
          "SELECT p.id FROM clinical.patients p, LATERAL (VALUES (p.mrn), ('MRN-1')) g(m) WHERE p.mrn = g.m",
          "SELECT p.id FROM clinical.patients p WHERE EXISTS (SELECT 1 FROM (SELECT 'MRN-1' AS mrn) g WHERE p.mrn = mrn)",
        ]) {
          expect.soft(await sqlstateOf(agent, sql), sql).toBe('0A000');
        }
        const arms = await agent.query(
          'SELECT p.id FROM clinical.patients p JOIN (SELECT q.mrn AS m FROM clinical.patients q UNION ALL SELECT r.mrn FROM clinical.patients r) g ON p.mrn = g.m ORDER BY p.id',
        );
        expect(arms.rows).toHaveLength(2 * ssns.length);
      });

      it('the unmasked identity is not restricted', async () => {
        const breakglass = await t.client(await t.token('dr-side', ['breakglass']));
        const r = await breakglass.query("SELECT id FROM clinical.patients WHERE ssn = $1", [ssns[0]]);
        expect(r.rows).toHaveLength(1);
      });
    });
  });
}
