// The masking key (db/mask-functions.ts) against Gatehouse's own upstream role, on the real
// PostgreSQL: that role can compute masks with the keyed functions but cannot read the key or
// its pads (table, digest function, pg_proc, pg_stat_activity), and no search_path, shadowing
// function, operator or type, or string-literal setting of the caller changes a masked value.

import { createHmac, randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hmacPads } from '../src/db/mask-functions.ts';
import { type SetupReport, setupMaskFunctions } from '../src/db/setup.ts';
import { TEST_DB, ensureDatabase, sqlstateOf } from './support/harness.ts';

const DB = `${TEST_DB}_maskkey`;
/** Role names are cluster-wide: one per test database, so parallel runners do not collide. */
const ROLE = `${TEST_DB}_maskkey_gw`;
const KEY = randomBytes(32);
const { ipad, opad } = hmacPads(KEY);
const SECRETS = [KEY, ipad, opad].map((b) => b.toString('hex'));

/** What gatehouse_mask_hash must return: HMAC-SHA256(key, domain 0 'hash' 0 value), 16 hex digits. */
const expectedHash = (domain: string, value: string): string =>
  'h:' + createHmac('sha256', KEY).update(Buffer.concat([Buffer.from(domain), Buffer.from([0]), Buffer.from('hash'), Buffer.from([0]), Buffer.from(value)])).digest('hex').slice(0, 16);

let adminUrl = '';
let admin: pg.Client;
let gw: pg.Client;
let setup: SetupReport;

const MASKS = `SELECT gatehouse.gatehouse_mask_hash('clinical.patients.email', 'ann@example.com') AS h,
  gatehouse.gatehouse_mask_fake('ssn', 'clinical.patients.ssn', '123-45-6789') AS ssn,
  gatehouse.gatehouse_mask_fake('phone', 'clinical.patients.phone', '+1 (617) 555-1234') AS phone,
  gatehouse.gatehouse_mask_fake('email', 'clinical.patients.email', 'ann@example.com') AS email,
  gatehouse.gatehouse_mask_fake_date('clinical.patients.date_of_birth', '1980-07-14'::pg_catalog.date)::pg_catalog.text AS dob`;

beforeAll(async () => {
  adminUrl = await ensureDatabase(DB);
  admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DO $$ BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${ROLE}') THEN CREATE ROLE ${ROLE} LOGIN NOSUPERUSER; END IF;
    END $$`);
  await admin.query('DROP SCHEMA IF EXISTS evil CASCADE');
  await admin.query(`CREATE SCHEMA evil AUTHORIZATION ${ROLE}`);
  setup = await setupMaskFunctions(admin, { grantTo: ROLE, key: KEY, rotate: true });
  const url = new URL(adminUrl);
  url.username = ROLE;
  gw = new pg.Client({ connectionString: url.toString() });
  await gw.connect();
});

afterAll(async () => {
  await gw?.end().catch(() => undefined);
  await admin?.end().catch(() => undefined);
});

describe('the masking key, seen from Gatehouse upstream role', () => {
  it('the role is not a superuser and computes the hash with the installed key', async () => {
    const r = await gw.query<{ rolsuper: boolean }>('SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user');
    expect(r.rows[0]!.rolsuper).toBe(false);
    const h = await gw.query<{ h: string }>(MASKS);
    expect(h.rows[0]!.h).toBe(expectedHash('clinical.patients.email', 'ann@example.com'));
  });

  it('cannot read the key table, nor call the digest function that returns whole HMACs', async () => {
    expect(await sqlstateOf(gw, 'SELECT * FROM gatehouse.gatehouse_mask_key')).toBe('42501');
    expect(await sqlstateOf(gw, 'SELECT ipad FROM gatehouse.gatehouse_mask_key')).toBe('42501');
    expect(await sqlstateOf(gw, "SELECT gatehouse.gatehouse_mask_digest('a', 'hash', 'b')")).toBe('42501');
    expect(await sqlstateOf(gw, 'COPY gatehouse.gatehouse_mask_key TO STDOUT')).toBe('42501');
    expect(await sqlstateOf(gw, 'ALTER FUNCTION gatehouse.gatehouse_mask_hash(text, text) SECURITY INVOKER')).toBe('42501');
    expect(await sqlstateOf(gw, 'CREATE FUNCTION gatehouse.x() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$')).toBe('42501');
  });

  it('pg_proc shows no key material and no per-function settings; pg_stat_activity never holds it', async () => {
    const procs = await gw.query<{ proname: string; prosrc: string; proconfig: string[] | null; prosecdef: boolean }>(
      "SELECT proname, prosrc, proconfig, prosecdef FROM pg_catalog.pg_proc WHERE pronamespace = 'gatehouse'::regnamespace",
    );
    // With the C extension (extension/gatehouse_mask) also its key-change trigger and load counter,
    // which run as the caller and which this role cannot execute, and last4 (1.1), which runs as the
    // caller and reads nothing but its argument.
    const c = setup.implementation.kind === 'c' ? ['gatehouse_mask_key_changed', 'gatehouse_mask_key_loads', 'gatehouse_mask_last4'] : [];
    expect(procs.rows.map((p) => p.proname).sort()).toEqual(['gatehouse_mask_digest', 'gatehouse_mask_fake', 'gatehouse_mask_fake_date', 'gatehouse_mask_hash', ...c].sort());
    for (const p of procs.rows) {
      expect(p.prosecdef).toBe(!c.includes(p.proname));
      expect(p.proconfig).toBeNull();
      for (const s of SECRETS) expect(p.prosrc.toLowerCase()).not.toContain(s);
    }
    // A masked statement in flight, watched from another session (as the administrator, who sees all).
    const running = gw.query("SELECT gatehouse.gatehouse_mask_hash('d.t.c', v), pg_catalog.pg_sleep(0.3) FROM (VALUES ('a'), ('b')) AS x(v)");
    let seen: string[] = [];
    for (let i = 0; i < 50 && seen.length === 0; i++) {
      const a = await admin.query<{ query: string }>("SELECT query FROM pg_catalog.pg_stat_activity WHERE query LIKE '%gatehouse_mask_hash(''d.t.c''%' AND pid <> pg_backend_pid()");
      seen = a.rows.map((r) => r.query);
      if (seen.length === 0) await new Promise((r) => setTimeout(r, 20));
    }
    await running;
    expect(seen.length).toBeGreaterThan(0);
    const all = await admin.query<{ query: string }>('SELECT coalesce(query, \'\') AS query FROM pg_catalog.pg_stat_activity');
    for (const q of [...seen, ...all.rows.map((r) => r.query)]) for (const s of SECRETS) expect(q.toLowerCase()).not.toContain(s);
  });

  it('a missing key is a clear error that names no key material', async () => {
    await admin.query('BEGIN');
    try {
      await admin.query('DELETE FROM gatehouse.gatehouse_mask_key');
      const err = await admin.query("SELECT gatehouse.gatehouse_mask_hash('d', 'v')").then(
        () => null,
        (e: { code?: string; message?: string; hint?: string }) => e,
      );
      expect(err?.code).toBe('55000');
      expect(err?.hint).toMatch(/gatehouse db setup/);
    } finally {
      await admin.query('ROLLBACK');
    }
  });
});

describe('search_path and session settings cannot change a masked value', () => {
  it('shadowing functions, operators and types (a schema of the role and pg_temp, ahead of pg_catalog) changes nothing', async () => {
    const before = (await gw.query(MASKS)).rows[0];
    // Look-alikes of everything the masking functions use, in a schema the role owns and in pg_temp.
    for (const schema of ['evil', 'pg_temp']) {
      await gw.query(`CREATE FUNCTION ${schema}.sha256(bytea) RETURNS bytea LANGUAGE sql AS $$ SELECT '\\x00'::pg_catalog.bytea $$`);
      await gw.query(`CREATE FUNCTION ${schema}.convert_to(text, name) RETURNS bytea LANGUAGE sql AS $$ SELECT '\\x01'::pg_catalog.bytea $$`);
      await gw.query(`CREATE FUNCTION ${schema}.encode(bytea, text) RETURNS text LANGUAGE sql AS $$ SELECT 'evil'::pg_catalog.text $$`);
      await gw.query(`CREATE FUNCTION ${schema}."left"(text, integer) RETURNS text LANGUAGE sql AS $$ SELECT 'evil'::pg_catalog.text $$`);
      await gw.query(`CREATE FUNCTION ${schema}.get_byte(bytea, integer) RETURNS integer LANGUAGE sql AS $$ SELECT 0 $$`);
      await gw.query(`CREATE FUNCTION ${schema}.substr(text, integer, integer) RETURNS text LANGUAGE sql AS $$ SELECT '0'::pg_catalog.text $$`);
      await gw.query(`CREATE FUNCTION ${schema}.make_date(integer, integer, integer) RETURNS date LANGUAGE sql AS $$ SELECT '2000-01-01'::pg_catalog.date $$`);
      await gw.query(`CREATE FUNCTION ${schema}.evil_cat(bytea, bytea) RETURNS bytea LANGUAGE sql AS $$ SELECT '\\x02'::pg_catalog.bytea $$`);
      await gw.query(`CREATE FUNCTION ${schema}.evil_tcat(text, text) RETURNS text LANGUAGE sql AS $$ SELECT 'evil'::pg_catalog.text $$`);
      await gw.query(`CREATE FUNCTION ${schema}.evil_eq(integer, integer) RETURNS boolean LANGUAGE sql AS $$ SELECT false $$`);
    }
    await gw.query('CREATE OPERATOR evil.|| (LEFTARG = bytea, RIGHTARG = bytea, FUNCTION = evil.evil_cat)');
    await gw.query('CREATE OPERATOR evil.|| (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.evil_tcat)');
    await gw.query('CREATE OPERATOR evil.= (LEFTARG = integer, RIGHTARG = integer, FUNCTION = evil.evil_eq)');
    await gw.query('CREATE DOMAIN evil.bytea AS pg_catalog.text');
    await gw.query('CREATE DOMAIN evil.text AS pg_catalog.varchar(1)');
    // A definer function runs as its owner, and lookups skip schemas the owner cannot use.
    await gw.query('GRANT USAGE ON SCHEMA evil TO PUBLIC');
    await gw.query('SET search_path = pg_temp, evil, pg_catalog');
    try {
      // The look-alikes are live: unqualified names in a statement of this session reach them.
      const live = await gw.query<{ s: string; c: string }>("SELECT encode(sha256('x'::pg_catalog.bytea), 'hex') AS s, 'a'::pg_catalog.text || 'b'::pg_catalog.text AS c");
      expect(live.rows[0]).toEqual({ s: 'evil', c: 'evil' });
      expect((await gw.query(MASKS)).rows[0]).toEqual(before);
      await gw.query('SET standard_conforming_strings = off');
      expect((await gw.query(MASKS)).rows[0]).toEqual(before);
    } finally {
      await gw.query('RESET standard_conforming_strings');
      await gw.query('RESET search_path');
    }
    expect(before.h).toBe(expectedHash('clinical.patients.email', 'ann@example.com'));
    expect(before.ssn).toMatch(/^9\d\d-\d\d-\d{4}$/);
  });
});
