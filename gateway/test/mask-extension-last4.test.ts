// The C last4 of extension gatehouse_mask 1.1 against the SQL expression it replaces, on the real
// PostgreSQL: the same output for every tricky value (NULL, empty, short, multibyte, combining
// marks, padded char(n), varchar(n)) as enforce/mask-expressions.ts writes both, in a UTF-8, an
// EUC_JP and a LATIN1 database; and a database set up with extension 1.0 keeps working (keyed hash
// in C, last4 in SQL) until `gatehouse db setup` updates it, with unchanged hashes. Needs the
// extension installed on the server (scripts/ensure-mask-extension.sh): skipped without it, a
// failure under CI=true.

import { createHmac, randomBytes } from 'node:crypto';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { functionStatements, keyStatement, keyTableStatements } from '../src/db/mask-functions.ts';
import { setupMaskFunctions } from '../src/db/setup.ts';
import { maskedColumn } from '../src/enforce/mask-expressions.ts';
import type { ColumnInfo } from '../src/enforce/relation-catalog.ts';
import { buildRelationCatalog, readRelationRows } from '../src/pg/relation-snapshot.ts';
import { PG_ADMIN_URL, TEST_DB, ensureDatabase } from './support/harness.ts';

const ROLE = `${TEST_DB}_maskext4_gw`;
const KEY = randomBytes(32);

const available = await (async (): Promise<boolean> => {
  const c = new pg.Client({ connectionString: PG_ADMIN_URL });
  await c.connect();
  try {
    return (await c.query("SELECT 1 FROM pg_catalog.pg_available_extension_versions WHERE name = 'gatehouse_mask' AND version = '1.1'")).rowCount === 1;
  } finally {
    await c.end();
  }
})();
if (!available && process.env['CI'] === 'true') {
  throw new Error('the C mask extension gatehouse_mask 1.1 is not installed on the test server: run scripts/ensure-mask-extension.sh');
}

/** Every length around 4 characters in 1-, 2-, 3- and 4-byte UTF-8, combining marks, spaces, NULL. */
const VALUES: Array<string | null> = [
  null,
  '',
  ...['a', 'é', '日', '🙂'].flatMap((c) => Array.from({ length: 7 }, (_, n) => c.repeat(n + 1))),
  '+1 617 555 0123',
  '123-45-6789',
  'e\u0301e\u0301e\u0301',
  'Zoë Ørsted-Łukasz',
  'ab🙂cd',
  '   ',
  '12  ',
  'x'.repeat(5_000) + '日本語テキ',
  "O'Brien \\ \"q\"",
];
/** The same values in what LATIN1 and EUC_JP can store. */
const LATIN1 = VALUES.filter((v) => v === null || /^[\u0000-\u00ff]*$/.test(v));
const EUC_JP = VALUES.filter((v) => v === null || /^[\u0000-\u007f\u3040-\u30ff\u4e00-\u9fff]*$/.test(v));

/** last4 by its definition: stars for all but the last four characters (code points). */
const expected = (v: string | null): string | null => {
  if (v === null) return null;
  const cs = [...v];
  return cs.length <= 4 ? '*'.repeat(cs.length) : '*'.repeat(cs.length - 4) + cs.slice(-4).join('');
};

const COLUMNS: ColumnInfo[] = [
  { name: 't', attnum: 1, type: 'text', category: 'S', typeOid: 25 },
  { name: 'vc', attnum: 2, type: 'character varying(6000)', category: 'S', typeOid: 1043 },
  { name: 'ch', attnum: 3, type: 'character(6000)', category: 'S', typeOid: 1042 },
];

/** The rows of a derived table as the rewrite writes it, with the C last4 or the SQL one. */
function derived(last4: boolean): string {
  const cols = COLUMNS.map((c) => maskedColumn(c, 'last4', `public.vals.${c.name}`, { last4 }));
  return `SELECT ${cols.join(', ')} FROM public.vals AS gatehouse_masked ORDER BY gatehouse_masked.i`;
}

async function admin(database: string, create?: string): Promise<pg.Client> {
  const root = new pg.Client({ connectionString: PG_ADMIN_URL });
  await root.connect();
  try {
    if (create !== undefined && (await root.query('SELECT 1 FROM pg_database WHERE datname = $1', [database])).rowCount === 0) {
      await root.query(`CREATE DATABASE ${database} ${create}`);
    }
  } finally {
    await root.end();
  }
  const c = new pg.Client({ connectionString: await ensureDatabase(database) });
  await c.connect();
  return c;
}

describe.skipIf(!available)('last4 in C (gatehouse_mask 1.1)', () => {
  beforeAll(async () => {
    const c = new pg.Client({ connectionString: PG_ADMIN_URL });
    await c.connect();
    try {
      await c.query(`DO $$ BEGIN
          IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${ROLE}') THEN CREATE ROLE ${ROLE} LOGIN NOSUPERUSER; END IF;
        END $$`);
    } finally {
      await c.end();
    }
  });

  for (const [encoding, values, create] of [
    ['UTF8', VALUES, undefined],
    ['EUC_JP', EUC_JP, "ENCODING 'EUC_JP' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"],
    ['LATIN1', LATIN1, "ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"],
  ] as const) {
    it(`gives the SQL expression's output for every value, in a ${encoding} database`, async () => {
      const db = await admin(`${TEST_DB}_last4_${encoding.toLowerCase()}`, create);
      try {
        expect((await db.query<{ e: string }>('SELECT pg_catalog.getdatabaseencoding() AS e')).rows[0]!.e).toBe(encoding);
        const setup = await setupMaskFunctions(db, { grantTo: ROLE, key: KEY, rotate: true, implementation: 'c' });
        expect(setup.implementation).toEqual({ kind: 'c', version: '1.1' });
        await db.query('DROP TABLE IF EXISTS public.vals');
        await db.query('CREATE TABLE public.vals (i int, t text, vc varchar(6000), ch char(6000))');
        await db.query('INSERT INTO public.vals SELECT i, v, v, v FROM unnest($1::text[]) WITH ORDINALITY AS x(v, i)', [values]);
        const viaC = (await db.query(derived(true))).rows as Array<Record<string, string | null>>;
        const viaSql = (await db.query(derived(false))).rows as Array<Record<string, string | null>>;
        expect(viaC).toEqual(viaSql);
        // and both are last4 by definition (char(n) pads with spaces, which the cast to text drops)
        expect(viaC.map((r) => r['t'])).toEqual(values.map(expected));
        expect(viaC.map((r) => r['vc'])).toEqual(values.map(expected));
        expect(viaC.map((r) => r['ch']?.trimEnd() ?? null)).toEqual(values.map((v) => expected(v === null ? null : v.replace(/ +$/, ''))));
      } finally {
        await db.end();
      }
    });
  }

  it('a database set up with extension 1.0 keeps working (hash in C, last4 in SQL) until db setup as a superuser updates it; hashes unchanged', async () => {
    const database = `${TEST_DB}_last4_upgrade`;
    const root = new pg.Client({ connectionString: PG_ADMIN_URL });
    await root.connect();
    try {
      await root.query(`DROP DATABASE IF EXISTS ${database}`);
    } finally {
      await root.end();
    }
    const db = await admin(database);
    const url = new URL(await ensureDatabase(database));
    url.username = ROLE;
    const gw = new pg.Client({ connectionString: url.toString() });
    try {
      // What `gatehouse db setup` of the previous release left: extension 1.0, its grants, a key.
      for (const sql of keyTableStatements()) await db.query(sql);
      await db.query("CREATE EXTENSION gatehouse_mask VERSION '1.0'");
      for (const sql of functionStatements(ROLE, 'c')) await db.query(sql);
      const key = keyStatement(KEY, true);
      await db.query(key.text, key.values);
      await gw.connect();
      const hashOf = async (): Promise<string> =>
        (await gw.query<{ h: string }>("SELECT gatehouse.gatehouse_mask_hash('public.t.email', 'ann@example.com') AS h")).rows[0]!.h;
      const want = 'h:' + createHmac('sha256', KEY).update(Buffer.from('public.t.email\0hash\0ann@example.com')).digest('hex').slice(0, 16);
      expect(await hashOf()).toBe(want);
      // Gatehouse's catalog sees the C hash and no C last4: it writes last4 in SQL.
      expect(buildRelationCatalog(await readRelationRows(gw)).maskFunctions).toMatchObject({ hash: true, implementation: 'c', last4: false });

      // The database's owner, not a superuser, cannot update the extension: setup keeps 1.0 and says why.
      const owner = `${TEST_DB}_last4_owner`;
      await db.query(`DO $$ BEGIN
          IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${owner}') THEN CREATE ROLE ${owner} LOGIN NOSUPERUSER; END IF;
        END $$`);
      await db.query(`ALTER DATABASE ${database} OWNER TO ${owner}`);
      await db.query(`GRANT gatehouse_mask_owner TO ${owner}`);
      const ownerUrl = new URL(url.toString());
      ownerUrl.username = owner;
      const asOwner = new pg.Client({ connectionString: ownerUrl.toString() });
      await asOwner.connect();
      try {
        const kept = (await setupMaskFunctions(asOwner, { grantTo: ROLE })).implementation;
        expect(kept).toMatchObject({ kind: 'c', version: '1.0' });
        expect(kept.kind === 'c' && kept.notUpdated).toMatch(/ALTER EXTENSION gatehouse_mask UPDATE to 1\.1 failed: .*owner/);
      } finally {
        await asOwner.end();
      }
      expect(await hashOf()).toBe(want);
      expect(buildRelationCatalog(await readRelationRows(gw)).maskFunctions).toMatchObject({ hash: true, last4: false });

      const setup = await setupMaskFunctions(db, { grantTo: ROLE });
      expect(setup).toEqual({ keyWritten: false, implementation: { kind: 'c', version: '1.1' } });
      expect(buildRelationCatalog(await readRelationRows(gw)).maskFunctions).toMatchObject({ hash: true, implementation: 'c', last4: true });
      expect(await hashOf()).toBe(want);
      expect((await gw.query<{ m: string }>("SELECT gatehouse.gatehouse_mask_last4('+1 617 555 0123') AS m")).rows[0]!.m).toBe('***********0123');
      // Setting up again changes nothing.
      expect((await setupMaskFunctions(db, { grantTo: ROLE })).implementation).toEqual({ kind: 'c', version: '1.1' });
    } finally {
      await gw.end().catch(() => undefined);
      await db.end();
    }
  });
});
