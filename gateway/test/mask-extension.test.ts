// The optional C keyed-hash mask (extension/gatehouse_mask) against the PL/pgSQL one, on the real
// PostgreSQL: equal outputs on many values, the same key custody for Gatehouse's upstream role,
// a key rotation seen by the next transaction of another session, and equal keyed hashes through
// Gatehouse with either implementation. Needs the extension installed on the server
// (scripts/ensure-mask-extension.sh): skipped without it, a failure under CI=true.

import { createHmac, randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyStatement } from '../src/db/mask-functions.ts';
import { setupMaskFunctions } from '../src/db/setup.ts';
import { runTool } from './support/run-tool.ts';
import { PG_ADMIN_URL, REPO_ROOT, TEST_DB, ensureClinicDatabase, ensureDatabase, sqlstateOf, startTestGateway } from './support/harness.ts';

const DB_C = `${TEST_DB}_maskext_c`;
const DB_PL = `${TEST_DB}_maskext_pl`;
/** Role names are cluster-wide: one per test database, so parallel runners do not collide. */
const ROLE = `${TEST_DB}_maskext_gw`;
const KEY = randomBytes(32);

const hmac = (key: Buffer, domain: string, purpose: string, value: string): Buffer =>
  createHmac('sha256', key).update(Buffer.concat([Buffer.from(domain), Buffer.from([0]), Buffer.from(purpose), Buffer.from([0]), Buffer.from(value)])).digest();
const expectedHash = (key: Buffer, domain: string, value: string): string => 'h:' + hmac(key, domain, 'hash', value).toString('hex').slice(0, 16);

const available = await (async (): Promise<boolean> => {
  const c = new pg.Client({ connectionString: PG_ADMIN_URL });
  await c.connect();
  try {
    return (await c.query("SELECT 1 FROM pg_catalog.pg_available_extensions WHERE name = 'gatehouse_mask'")).rowCount === 1;
  } finally {
    await c.end();
  }
})();
if (!available && process.env['CI'] === 'true') {
  throw new Error('the C mask extension gatehouse_mask is not installed on the test server: run scripts/ensure-mask-extension.sh');
}

/** Values covering the edges: empty, non-ASCII (2-, 3- and 4-byte UTF-8), long, quotes, SQL-looking. */
const VALUES = [
  '',
  'a',
  'ann@example.com',
  'Zoë Ørsted-Łukasz',
  '日本語のテキスト',
  '🙂🙃 emoji',
  "O'Brien \\ \"quoted\"",
  'x'.repeat(10_000),
  'é'.repeat(3_000),
  ...Array.from({ length: 500 }, (_, i) => `p${i}@example.com`),
];

async function connect(database: string, user?: string): Promise<pg.Client> {
  const url = new URL(await ensureDatabase(database));
  if (user !== undefined) url.username = user;
  const c = new pg.Client({ connectionString: url.toString() });
  await c.connect();
  return c;
}

const HASHES = `SELECT gatehouse.gatehouse_mask_hash(d, v) AS h FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS x(d, v, i) ORDER BY i`;
const DIGESTS = `SELECT pg_catalog.encode(gatehouse.gatehouse_mask_digest(d, p, v), 'hex') AS h
  FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS x(d, p, v, i) ORDER BY i`;
const FAKES = `SELECT gatehouse.gatehouse_mask_fake('ssn', 'clinical.patients.ssn', '123-45-6789') AS ssn,
  gatehouse.gatehouse_mask_fake('phone', 'clinical.patients.phone', '+1 (617) 555-1234') AS phone,
  gatehouse.gatehouse_mask_fake('email', 'clinical.patients.email', 'ann@example.com') AS email,
  gatehouse.gatehouse_mask_fake_date('clinical.patients.date_of_birth', '1980-07-14'::pg_catalog.date)::pg_catalog.text AS dob`;

describe.skipIf(!available)('the C mask extension gatehouse_mask', () => {
  let adminC: pg.Client;
  let adminPl: pg.Client;
  let gwC: pg.Client;

  beforeAll(async () => {
    adminC = await connect(DB_C);
    adminPl = await connect(DB_PL);
    await adminC.query(`DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${ROLE}') THEN CREATE ROLE ${ROLE} LOGIN NOSUPERUSER; END IF;
      END $$`);
    const c = await setupMaskFunctions(adminC, { grantTo: ROLE, key: KEY, rotate: true, implementation: 'c' });
    const pl = await setupMaskFunctions(adminPl, { grantTo: ROLE, key: KEY, rotate: true, implementation: 'plpgsql' });
    expect(c.implementation.kind).toBe('c');
    expect(pl.implementation).toEqual({ kind: 'plpgsql', why: 'asked for' });
    gwC = await connect(DB_C, ROLE);
  });

  afterAll(async () => {
    await gwC?.end().catch(() => undefined);
    await adminC?.end().catch(() => undefined);
    await adminPl?.end().catch(() => undefined);
  });

  it('is the implementation each database reports: C functions in one, PL/pgSQL in the other', async () => {
    // The mask functions only: `db setup` (the next test, or an earlier run's) adds the catalog event trigger's function.
    const lang = 'SELECT p.proname::text, l.lanname::text FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_language l ON l.oid = p.prolang WHERE p.pronamespace = \'gatehouse\'::regnamespace AND p.proname LIKE \'gatehouse\\_mask\\_%\' ORDER BY 1';
    expect((await adminC.query(lang)).rows).toEqual([
      { proname: 'gatehouse_mask_digest', lanname: 'c' },
      { proname: 'gatehouse_mask_fake', lanname: 'plpgsql' },
      { proname: 'gatehouse_mask_fake_date', lanname: 'plpgsql' },
      { proname: 'gatehouse_mask_hash', lanname: 'c' },
      { proname: 'gatehouse_mask_key_changed', lanname: 'c' },
      { proname: 'gatehouse_mask_key_loads', lanname: 'c' },
      { proname: 'gatehouse_mask_last4', lanname: 'c' },
    ]);
    expect((await adminPl.query(lang)).rows.map((r: { lanname: string }) => r.lanname)).toEqual(['plpgsql', 'plpgsql', 'plpgsql', 'plpgsql']);
    // Setting up again keeps C (a CREATE OR REPLACE would have turned it back into PL/pgSQL).
    expect((await setupMaskFunctions(adminC, { grantTo: ROLE })).implementation.kind).toBe('c');
    expect((await adminC.query(lang)).rows.find((r: { proname: string }) => r.proname === 'gatehouse_mask_hash')).toEqual({ proname: 'gatehouse_mask_hash', lanname: 'c' });
  });

  it('`gatehouse db setup` says which implementation is active, and --mask-impl c fails closed without the extension', async () => {
    const url = await ensureDatabase(DB_C);
    const setup = (...args: string[]) => runTool('node', ['gateway/bin/gatehouse.js', 'db', 'setup', '--url', url, '--grant-to', ROLE, ...args], { cwd: REPO_ROOT, killAfterMs: 60_000 });
    const auto = await setup();
    expect(auto.code).toBe(0);
    expect(auto.stdout.toString()).toMatch(/keyed masks computed by the C extension gatehouse_mask 1\.1/);
    const bad = await setup('--mask-impl', 'fast');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--mask-impl must be auto, c or plpgsql/);
    // A database where the extension cannot be created (the library is there, the role may not):
    // auto falls back to PL/pgSQL saying why, c refuses.
    const owner = `${TEST_DB}_maskext_owner`;
    const ownDb = `${TEST_DB}_maskext_own`;
    await adminC.query(`DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${owner}') THEN CREATE ROLE ${owner} LOGIN NOSUPERUSER CREATEROLE; END IF;
      END $$`);
    const ownUrl = new URL(await ensureDatabase(ownDb));
    await adminC.query(`ALTER DATABASE ${ownDb} OWNER TO ${owner}`);
    // The owner must be able to hand objects to the mask owner role, as `db setup` requires.
    const own = await connect(ownDb);
    try {
      await own.query(`DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gatehouse_mask_owner') THEN CREATE ROLE gatehouse_mask_owner NOLOGIN; END IF; END $$`);
      await own.query(`GRANT gatehouse_mask_owner TO ${owner}`);
      await own.query(`GRANT CREATE ON DATABASE ${ownDb} TO ${owner}`);
    } finally {
      await own.end();
    }
    ownUrl.username = owner;
    const asOwner = new pg.Client({ connectionString: ownUrl.toString() });
    await asOwner.connect();
    try {
      const fallback = await setupMaskFunctions(asOwner, { grantTo: ROLE, key: KEY, rotate: true });
      expect(fallback.implementation.kind).toBe('plpgsql');
      expect(fallback.implementation.kind === 'plpgsql' && fallback.implementation.why).toMatch(/CREATE EXTENSION gatehouse_mask failed: permission denied/);
      const refused = await setupMaskFunctions(asOwner, { grantTo: ROLE, implementation: 'c' }).then(
        () => null,
        (e: { code?: string }) => e,
      );
      expect(refused?.code).toBe('GH_MASK_EXTENSION_UNAVAILABLE');
      // The refused setup changed nothing: the PL/pgSQL hash still answers with the key.
      expect((await asOwner.query<{ h: string }>("SELECT gatehouse.gatehouse_mask_hash('d', 'v') AS h")).rows[0]!.h).toBe(expectedHash(KEY, 'd', 'v'));
    } finally {
      await asOwner.end();
    }
  });

  it('hashes, digests and fakes are equal to the PL/pgSQL ones and to HMAC-SHA-256 computed here', async () => {
    const domains = VALUES.map((_, i) => (i % 3 === 0 ? 'clinical.patients.email' : i % 3 === 1 ? 'public.t.c' : 'schéma.tæble.çol'));
    const viaC = (await gwC.query<{ h: string }>(HASHES, [domains, VALUES])).rows.map((r) => r.h);
    const viaPl = (await adminPl.query<{ h: string }>(HASHES, [domains, VALUES])).rows.map((r) => r.h);
    expect(viaC).toEqual(viaPl);
    expect(viaC).toEqual(VALUES.map((v, i) => expectedHash(KEY, domains[i]!, v)));
    const purposes = VALUES.map((_, i) => ['hash', 'fake_ssn', 'fake_date', ''][i % 4]!);
    const digestC = (await adminC.query<{ h: string }>(DIGESTS, [domains, purposes, VALUES])).rows.map((r) => r.h);
    const digestPl = (await adminPl.query<{ h: string }>(DIGESTS, [domains, purposes, VALUES])).rows.map((r) => r.h);
    expect(digestC).toEqual(digestPl);
    expect(digestC).toEqual(VALUES.map((v, i) => hmac(KEY, domains[i]!, purposes[i]!, v).toString('hex')));
    expect((await gwC.query(FAKES)).rows).toEqual((await adminPl.query(FAKES)).rows);
    // NULL in, NULL out (STRICT), as before.
    expect((await gwC.query('SELECT gatehouse.gatehouse_mask_hash(NULL, \'v\') AS a, gatehouse.gatehouse_mask_hash(\'d\', NULL) AS b')).rows[0]).toEqual({ a: null, b: null });
  });

  it('equal to PL/pgSQL and HMAC-SHA-256 for every message length across the block boundaries, multibyte text, empty and NULL, before and after a rotation', async () => {
    // Domains of 0, 1, 34 and 90 bytes: with purpose and separators, messages of 6 to ~500 bytes,
    // so the C code's one-block, two-block and longer paths (extension/gatehouse_mask/sha256.c) all run.
    const domainsOf = ['', 'd', 'public.pgbench_masked_people.email', 'x'.repeat(90)];
    const lengths: Array<{ d: string; v: string }> = [];
    for (const d of domainsOf) {
      for (let n = 0; n <= 130; n++) lengths.push({ d, v: 'v'.repeat(n) });
      for (let n = 1; n <= 40; n++) lengths.push({ d, v: 'é'.repeat(n) }); // 2-byte UTF-8
      for (let n = 1; n <= 30; n++) lengths.push({ d, v: '日'.repeat(n) }); // 3-byte
      for (let n = 1; n <= 20; n++) lengths.push({ d, v: '🙂'.repeat(n) }); // 4-byte
    }
    const ds = lengths.map((x) => x.d);
    const vs = lengths.map((x) => x.v);
    const check = async (key: Buffer): Promise<void> => {
      const viaC = (await gwC.query<{ h: string }>(HASHES, [ds, vs])).rows.map((r) => r.h);
      expect(viaC).toEqual(vs.map((v, i) => expectedHash(key, ds[i]!, v)));
      const purposes = vs.map((_, i) => ['hash', 'fake_ssn', 'fake_phone', 'fake_date', 'é'][i % 5]!);
      const digestC = (await adminC.query<{ h: string }>(DIGESTS, [ds, purposes, vs])).rows.map((r) => r.h);
      expect(digestC).toEqual(vs.map((v, i) => hmac(key, ds[i]!, purposes[i]!, v).toString('hex')));
    };
    await check(KEY);
    // The PL/pgSQL functions give the same hashes for the same key.
    expect((await gwC.query<{ h: string }>(HASHES, [ds, vs])).rows).toEqual((await adminPl.query<{ h: string }>(HASHES, [ds, vs])).rows);
    // NULL in either argument gives NULL (STRICT); an empty domain and an empty value are hashed.
    const edge = await gwC.query<{ a: string | null; b: string | null; c: string; d: string }>(
      "SELECT gatehouse.gatehouse_mask_hash(NULL, 'v') AS a, gatehouse.gatehouse_mask_hash('d', NULL) AS b, gatehouse.gatehouse_mask_hash('', '') AS c, gatehouse.gatehouse_mask_hash('d', '') AS d",
    );
    expect(edge.rows[0]).toEqual({ a: null, b: null, c: expectedHash(KEY, '', ''), d: expectedHash(KEY, 'd', '') });
    // A rotation reaches the cached midstates of a session that already hashed with the old key.
    const key2 = randomBytes(32);
    const rotate = async (key: Buffer): Promise<void> => {
      const write = keyStatement(key, true);
      const rotator = await connect(DB_C);
      try {
        await rotator.query(write.text, write.values);
      } finally {
        await rotator.end();
      }
    };
    await rotate(key2);
    try {
      await check(key2);
    } finally {
      await rotate(KEY);
    }
    await check(KEY);
  });

  it('keeps the key from the upstream role: no key table, no digest, no LOAD, no C function of its own', async () => {
    expect(await sqlstateOf(gwC, 'SELECT * FROM gatehouse.gatehouse_mask_key')).toBe('42501');
    expect(await sqlstateOf(gwC, "SELECT gatehouse.gatehouse_mask_digest('a', 'hash', 'b')")).toBe('42501');
    expect(await sqlstateOf(gwC, 'SELECT gatehouse.gatehouse_mask_key_loads()')).toBe('42501');
    expect(await sqlstateOf(gwC, "LOAD 'gatehouse_mask'")).toBe('42501');
    expect(await sqlstateOf(gwC, "LOAD '$libdir/gatehouse_mask'")).toBe('42501');
    expect(await sqlstateOf(gwC, "CREATE FUNCTION public.mine(text, text) RETURNS text LANGUAGE c AS 'gatehouse_mask', 'gatehouse_mask_hash'")).toBe('42501');
    expect(await sqlstateOf(gwC, 'DROP EXTENSION gatehouse_mask')).toBe('42501');
    expect(await sqlstateOf(gwC, 'ALTER TABLE gatehouse.gatehouse_mask_key DISABLE TRIGGER gatehouse_mask_key_changed')).toBe('42501');
    // A look-alike key table first in search_path changes nothing (the C code names it qualified).
    await gwC.query("CREATE TEMP TABLE gatehouse_mask_key AS SELECT 1 AS id, '\\x00'::bytea AS ipad, '\\x00'::bytea AS opad");
    await gwC.query('SET search_path = pg_temp, public');
    try {
      expect((await gwC.query<{ h: string }>(HASHES, [['d'], ['v']])).rows[0]!.h).toBe(expectedHash(KEY, 'd', 'v'));
    } finally {
      await gwC.query('RESET search_path');
      await gwC.query('DROP TABLE pg_temp.gatehouse_mask_key');
    }
  });

  it('reads the key once per backend, and a rotation in another session reaches the next transaction', async () => {
    // The key loads are counted per backend: watch the administrator's own session.
    const loads = async (): Promise<number> => Number((await adminC.query<{ n: string }>('SELECT gatehouse.gatehouse_mask_key_loads() AS n')).rows[0]!.n);
    await adminC.query(HASHES, [['d'], ['first']]);
    const before = await loads();
    for (let i = 0; i < 3; i++) await adminC.query(HASHES, [['d', 'd'], [`v${i}`, `w${i}`]]);
    expect(await loads()).toBe(before);

    expect((await gwC.query<{ h: string }>(HASHES, [['d'], ['v']])).rows[0]!.h).toBe(expectedHash(KEY, 'd', 'v'));
    const key2 = randomBytes(32);
    const rotator = await connect(DB_C);
    try {
      // The key row alone (db setup's DDL would send invalidations of its own): only the trigger tells.
      const write = keyStatement(key2, true);
      await rotator.query(write.text, write.values);
    } finally {
      await rotator.end();
    }
    expect((await gwC.query<{ h: string }>(HASHES, [['d'], ['v']])).rows[0]!.h).toBe(expectedHash(key2, 'd', 'v'));
    expect((await adminC.query<{ h: string }>(HASHES, [['d'], ['v']])).rows[0]!.h).toBe(expectedHash(key2, 'd', 'v'));
    expect(await loads()).toBe(before + 1);
    // Rotated back, for the tests after this one.
    const back = keyStatement(KEY, true);
    await adminC.query(back.text, back.values);
    expect((await gwC.query<{ h: string }>(HASHES, [['d'], ['v']])).rows[0]!.h).toBe(expectedHash(KEY, 'd', 'v'));
  });

  it('a missing key is 55000 naming db setup, also once the key was cached', async () => {
    await adminC.query(HASHES, [['d'], ['cached']]);
    await adminC.query('BEGIN');
    try {
      await adminC.query('DELETE FROM gatehouse.gatehouse_mask_key');
      const err = await adminC.query(HASHES, [['d'], ['v']]).then(
        () => null,
        (e: { code?: string; hint?: string }) => e,
      );
      expect(err?.code).toBe('55000');
      expect(err?.hint).toMatch(/gatehouse db setup/);
    } finally {
      await adminC.query('ROLLBACK');
    }
    expect((await adminC.query<{ h: string }>(HASHES, [['d'], ['v']])).rows[0]!.h).toBe(expectedHash(KEY, 'd', 'v'));
  });

  it('forced parallel workers compute the same hashes', async () => {
    await adminC.query('CREATE TABLE IF NOT EXISTS public.many AS SELECT g AS id, \'p\' || g || \'@example.com\' AS v FROM generate_series(1, 20000) g');
    await adminC.query('GRANT SELECT ON public.many TO ' + ROLE);
    await gwC.query('SET max_parallel_workers_per_gather = 2; SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0; SET force_parallel_mode = on');
    try {
      const plan = (await gwC.query("EXPLAIN SELECT gatehouse.gatehouse_mask_hash('d', v) FROM public.many")).rows.map((r: { 'QUERY PLAN': string }) => r['QUERY PLAN']).join('\n');
      expect(plan).toMatch(/Gather/);
      const rows = (await gwC.query<{ v: string; h: string }>("SELECT v, gatehouse.gatehouse_mask_hash('d', v) AS h FROM public.many")).rows;
      expect(rows).toHaveLength(20000);
      for (const r of rows) if (r.h !== expectedHash(KEY, 'd', r.v)) throw new Error(`${r.v}: ${r.h}`);
    } finally {
      await gwC.query('RESET ALL');
    }
  });
});

describe.skipIf(!available)('keyed hashes through Gatehouse, C or PL/pgSQL', () => {
  it('are the same values, HMAC-SHA-256 of the raw ones, with either implementation (and last4, C or SQL)', async () => {
    const seen: Record<string, Array<{ mrn: string; email: string; phone: string }>> = {};
    for (const implementation of ['c', 'plpgsql'] as const) {
      const url = await ensureClinicDatabase(`${TEST_DB}_maskext_gw_${implementation}`);
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      let raw: Array<{ mrn: string; email: string; phone: string }>;
      try {
        expect((await setupMaskFunctions(admin, { grantTo: 'postgres', key: KEY, rotate: true, implementation })).implementation.kind).toBe(implementation);
        raw = (await admin.query('SELECT mrn, email, phone FROM clinical.patients ORDER BY id')).rows;
      } finally {
        await admin.end();
      }
      const infos: string[] = [];
      const t = await startTestGateway({ engine: 'rego', upstreamUrl: url, onInfo: (m) => infos.push(m) });
      try {
        const agent = await t.client(await t.token('agent-maskext', ['agents']));
        seen[implementation] = (await agent.query('SELECT mrn, email, phone FROM clinical.patients ORDER BY id')).rows;
        expect(seen[implementation]).toEqual(
          raw.map((r) => ({
            mrn: expectedHash(KEY, 'clinical.patients.mrn', r.mrn),
            email: expectedHash(KEY, 'clinical.patients.email', r.email),
            phone: '*'.repeat(r.phone.length - 4) + r.phone.slice(-4),
          })),
        );
        expect(infos.some((m) => m.includes(implementation === 'c' ? 'computed by the C extension gatehouse_mask' : 'computed by PL/pgSQL'))).toBe(true);
      } finally {
        await t.close();
      }
    }
    expect(seen['c']!.length).toBeGreaterThan(0);
    expect(seen['c']).toEqual(seen['plpgsql']);
  });
});
