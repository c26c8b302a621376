// Red-team probes against Gatehouse with the example HIPAA policies: an identity in `agents` must
// never see clinical.patients.ssn (masked with `redact`) and must not run what the policy denies.
//
// The "bypasses found in review" blocks (B1-B9) each reproduce a bypass a security review found
// and Gatehouse now closes (search_path shadowing, SQL in strings, file functions by other names,
// parser differentials through standard_conforming_strings and client encodings, planner
// statistics, predicates over masked columns, pipeline desynchronisation, side effects). They
// assert the secure behaviour. The "blocked" blocks are probes that were stopped from the start.
//
// Run: GATEHOUSE_TEST_DB=gatehouse_it_redteam npx vitest run gateway/test/redteam-probe.test.ts

import { copyFileSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, sqlstateOf, startTestGateway, TEST_DB, type TestGateway } from './support/harness.ts';
import { useRedTeam } from './support/redteam.ts';
import { psqlVia } from './support/run-tool.ts';
import { rowsOf, serialize, WireClient } from './support/wire-client.ts';

interface Outcome {
  rows: unknown[];
  code: string | null;
}

async function run(c: pg.Client, sql: string): Promise<Outcome> {
  try {
    const r = await c.query(sql);
    return { rows: r.rows, code: null };
  } catch (e) {
    return { rows: [], code: (e as { code?: string }).code ?? 'no-sqlstate' };
  }
}

for (const engine of ['rego', 'cedar'] as const) {
  describe(`red team, ${engine} engine`, () => {
    const victim = `public.redteam_victim_${engine}`;
    const rt = useRedTeam(engine, 'agent-red', {
      setupSql: `DROP TABLE IF EXISTS ${victim}; CREATE TABLE ${victim} (id int)`,
      cleanupSql: `DROP TABLE IF EXISTS ${victim}`,
    });
    const { leaks, agent } = rt;
    const victimExists = async (): Promise<boolean> =>
      (await rt.direct.query('SELECT to_regclass($1) IS NOT NULL AS e', [victim])).rows[0].e as boolean;

    describe('bypasses found in review (each must stay closed)', () => {
      it('B1a: SET search_path = pg_catalog, clinical does not make patients readable as a catalog table', async () => {
        for (const first of ['pg_catalog', 'information_schema']) {
          const c = await agent();
          await c.query(`SET search_path = ${first}, clinical`);
          const r = await run(c, 'SELECT ssn FROM patients ORDER BY id LIMIT 3');
          expect.soft(leaks(r), `search_path ${first}, clinical`).toBe(false);
        }
        const c = await agent();
        await c.query("SELECT set_config('search_path', 'pg_catalog, clinical', false)");
        expect.soft(leaks(await run(c, 'SELECT ssn FROM patients ORDER BY id LIMIT 3')), 'set_config').toBe(false);
      });

      it('B1b: a search_path startup parameter naming pg_catalog first does not either', async () => {
        const s = await WireClient.connect(rt.gateway.port, rt.token, { search_path: 'pg_catalog, clinical' });
        s.send(serialize.query('SELECT ssn FROM patients ORDER BY id LIMIT 3'));
        const [g] = await s.untilReady(1);
        s.close();
        expect.soft(leaks(rowsOf(g ?? []))).toBe(false);
      });

      it('B2: SQL passed as a string (query_to_xml, table_to_xml) does not return masked values', async () => {
        const c = await agent();
        for (const sql of [
          "SELECT query_to_xml('select ssn from clinical.patients', true, false, '')",
          "SELECT table_to_xml('clinical.patients', true, false, '')",
          "SELECT query_to_xml_and_xmlschema('select * from clinical.patients', true, false, '')",
        ]) {
          expect.soft(leaks(await run(c, sql)), sql).toBe(false);
        }
      });

      it('B3: server file functions stay denied however they are called', async () => {
        const c = await agent();
        for (const sql of [
          `SELECT ${TEST_DB}.pg_catalog.pg_read_file('/etc/hostname')`, // catalog-qualified name
          "SELECT (f).pg_read_file FROM (SELECT '/etc/hostname'::text AS f) s", // attribute notation: no FuncCall node
          "SELECT query_to_xml('select pg_read_file(''/etc/hostname'')', true, false, '')", // hidden in a string
        ]) {
          expect.soft(await sqlstateOf(c, sql), sql).toBe('42501');
        }
      });

      it('B4: standard_conforming_strings = off does not let a string literal hide SQL from the policy', async () => {
        const c = await agent();
        // Refused (22023): Gatehouse's parser only reads standard strings. The payloads below are
        // sent anyway, as a client that ignored the error would.
        expect(await sqlstateOf(c, 'SET standard_conforming_strings = off')).toBe('22023');
        // Gatehouse's parser (standard strings) sees one string expression; the server sees 'a\'' || '
        // followed by real SQL and a comment.
        const r = await run(c, "SELECT 'a\\' || ' UNION ALL SELECT ssn FROM clinical.patients --'");
        expect.soft(leaks(r), 'masked values read').toBe(false);
        await run(c, `SELECT 'a\\' || '; DROP TABLE ${victim}; --'`);
        expect.soft(await victimExists(), 'DDL denied by deny-ddl ran anyway').toBe(true);
      });

      it('B5: client_encoding GBK does not let a multibyte character hide SQL from the policy (psql)', async () => {
        // 0xBF 0x5C is one GBK character to the server; Gatehouse decodes the bytes as UTF-8 and sees
        // U+FFFD followed by a backslash that escapes the closing quote of the E'' string.
        const script = Buffer.concat([
          Buffer.from("SET client_encoding = 'GBK';\nSELECT E'"),
          Buffer.from([0xbf, 0x5c]),
          Buffer.from("' UNION ALL SELECT ssn FROM clinical.patients -- ';\n"),
        ]);
        const r = await psqlVia(rt.gateway.port, rt.token, ['-At', '-f', '-'], { stdin: script });
        expect.soft(leaks(r.stdout.toString('latin1'))).toBe(false);
      });

      it('B6: planner statistics in pg_stats do not reveal masked column values', async () => {
        await rt.direct.query('ANALYZE clinical.patients'); // what autovacuum does on any real table
        const c = await agent();
        const r = await run(
          c,
          "SELECT attname, histogram_bounds::text, most_common_vals::text FROM pg_stats WHERE schemaname = 'clinical' AND tablename = 'patients'",
        );
        expect.soft(leaks(r)).toBe(false);
      });

      it('B7: a masked column cannot be read back through a join predicate', async () => {
        // Each output column is traced to clinical.visits.id (unmasked); the SSN only appears in ON.
        const c = await agent();
        const r = await run(
          c,
          `SELECT p.id, val.id AS val FROM clinical.patients p
             JOIN clinical.visits pos ON pos.id BETWEEN 1 AND 11
             JOIN clinical.visits val ON val.id = ascii(substr(p.ssn, pos.id, 1)) - 44
            ORDER BY p.id, pos.id`,
        );
        const rebuilt = new Map<number, string>();
        for (const row of r.rows as { id: number; val: number }[]) rebuilt.set(row.id, (rebuilt.get(row.id) ?? '') + String.fromCharCode(row.val + 44));
        expect.soft(leaks([...rebuilt.values()])).toBe(false);
      });

      it('B8: a simple Query inside a failed extended batch does not desynchronise masking', async () => {
        const w = await WireClient.connect(rt.gateway.port, rt.token);
        // The Parse fails upstream ('x'::int), so PostgreSQL skips the Query until Sync; Gatehouse still
        // expects an answer to it, and every later response is attributed to the entry before it.
        w.send(serialize.parse({ text: "SELECT 'x'::int" }), serialize.bind({}), serialize.execute({}), serialize.query('SELECT 1'), serialize.sync());
        await w.untilReady(1);
        w.send(serialize.query('SELECT ssn FROM clinical.patients ORDER BY id LIMIT 3'));
        const [g] = await w.untilReady(1);
        w.close();
        expect.soft(leaks(rowsOf(g ?? []))).toBe(false);
      });
    });

    describe('blocked today (regression)', () => {
      it('masks SSNs through CTEs, LATERAL, TABLE, ONLY, UNION, column aliases, field notation and row/aggregate functions', async () => {
        const c = await agent();
        for (const sql of [
          'TABLE clinical.patients',
          'SELECT ssn FROM ONLY clinical.patients',
          'WITH x AS (SELECT ssn FROM clinical.patients) SELECT * FROM x',
          'SELECT l.s FROM clinical.visits v, LATERAL (SELECT ssn AS s FROM clinical.patients p WHERE p.id = v.patient_id) l',
          'SELECT diagnosis_code FROM clinical.patients UNION ALL SELECT ssn FROM clinical.patients',
          "SELECT s, s || '' AS t FROM clinical.patients AS p(i, m, f, l, s)",
          'SELECT (p).ssn, p.ssn FROM clinical.patients p',
          'SELECT row_to_json(p), json_agg(p.*) OVER () FROM clinical.patients p',
          'SELECT v.id, (SELECT ssn FROM clinical.patients p WHERE p.id = v.patient_id) FROM clinical.visits v',
          'SELECT U&"ss\\006E" FROM clinical.patients',
        ]) {
          const r = await run(c, sql);
          // Masked at the source: everything, computations included, runs on masked values.
          expect(r.code, sql).toBe(null);
          expect(leaks(r), sql).toBe(false);
        }
      });

      it('errors that quote a value quote the masked one (cast errors)', async () => {
        const c = await agent();
        try {
          await c.query('SELECT ssn::int FROM clinical.patients');
          expect.unreachable();
        } catch (e) {
          expect((e as { code?: string }).code).toBe('22P02');
          expect((e as Error).message).toBe('invalid input syntax for type integer: "***"');
          expect(leaks((e as Error).message)).toBe(false);
        }
      });

      it('masks cursors over masked columns and binary-format results', async () => {
        const c = await agent();
        await c.query('BEGIN');
        await c.query('DECLARE c CURSOR WITH HOLD FOR SELECT ssn FROM clinical.patients');
        await c.query('COMMIT');
        const fetched = await c.query('FETCH ALL FROM c');
        expect(fetched.rows.length).toBe(rt.ssns.length);
        expect(fetched.rows.every((r) => r.ssn === '***')).toBe(true);
        const b = await agent({ binary: true } as Partial<pg.ClientConfig>); // node-postgres option, not in its types
        const r = await b.query('SELECT id, ssn FROM clinical.patients WHERE id = $1', [1]);
        expect(r.rows).toEqual([{ id: 1, ssn: '***' }]);
      });

      it('follows SET search_path to a masked schema', async () => {
        const c = await agent();
        await c.query('SET search_path = clinical');
        expect(leaks(await run(c, 'SELECT ssn FROM patients'))).toBe(false);
      });

      it('denies DO, PREPARE, temporary views, NOTIFY and plainly named file functions', async () => {
        await rt.direct.query(`CREATE TABLE IF NOT EXISTS ${victim} (id int)`); // B4 may have dropped it
        const c = await agent();
        for (const sql of [
          'DO $$BEGIN END$$',
          'PREPARE p AS SELECT ssn FROM clinical.patients',
          'CREATE TEMP VIEW v AS SELECT ssn FROM clinical.patients',
          "NOTIFY ch, 'x'",
          "SELECT pg_read_file('/etc/hostname')",
          "SELECT PG_CATALOG.PG_READ_FILE('/etc/hostname')",
          `SELECT 'a'; DROP TABLE ${victim}`,
        ]) {
          expect(await sqlstateOf(c, sql), sql).toBe('42501');
        }
        expect(await victimExists()).toBe(true);
      });
    });
  });
}

describe('red team: notifications (a policy that lets some group LISTEN, as in notify.test.ts)', () => {
  let t: TestGateway;
  let direct: pg.Client;
  let ssn: string;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-redteam-policies-'));
    const examples = join(REPO_ROOT, 'policies', 'rego');
    for (const f of readdirSync(examples)) if (f.endsWith('.rego') && !f.endsWith('_test.rego')) copyFileSync(join(examples, f), join(dir, f));
    writeFileSync(
      join(dir, 'redteam_listen.rego'),
      `package gatehouse

allow contains {"id": "redteam-listen", "reason": "listeners may LISTEN", "on": "execute"} if {
	member("listeners")
	input.statement.kind == "listen"
}

# Agents may notify here (the example set denies pg_notify to everyone, deny-notify), so that what
# refuses pg_notify over a masked column is the masking layer itself.
notify_permitted if member("agents")
`,
    );
    t = await startTestGateway({ policiesDir: dir });
    direct = new pg.Client({ connectionString: t.upstreamUrl });
    await direct.connect();
    ssn = (await direct.query('SELECT ssn FROM clinical.patients WHERE id = 1')).rows[0].ssn as string;
  });
  afterAll(async () => {
    await direct?.end();
    await t?.close();
  });

  it('B9: pg_notify in a masked SELECT carries only masked values to a listener', async () => {
    const listener = await t.client(await t.token('service-listener', ['listeners']));
    await listener.query('LISTEN redteam');
    const payloads: string[] = [];
    let markerSeen!: () => void;
    const marker = new Promise<void>((resolve) => (markerSeen = resolve));
    listener.on('notification', (n: pg.Notification) => {
      payloads.push(n.payload ?? '');
      if (n.payload === 'marker') markerSeen();
    });
    const agent = await t.client(await t.token('agent-notify', ['agents']));
    const sent = await agent.query("SELECT pg_notify('redteam', ssn) FROM clinical.patients WHERE id = 1").then(
      () => 'sent',
      (e: { code?: string }) => e.code,
    );
    // Notifications arrive in commit order: once the marker sent after it is here, whatever the
    // statement sent is here too. (The example policies may deny pg_notify outright: either way no SSN.)
    await direct.query("NOTIFY redteam, 'marker'");
    await marker;
    expect(payloads).toEqual(sent === 'sent' ? ['***', 'marker'] : ['marker']);
    expect(payloads).not.toContain(ssn);
  });
});
