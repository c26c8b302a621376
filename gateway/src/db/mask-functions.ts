// What `gatehouse db setup` installs in an upstream database so that keyed masks (`hash`, the
// fakes) are computed by PostgreSQL itself: a key no client can read, and SECURITY DEFINER
// functions that use it. Design (docs/data-path.md, "Where the hash key lives"):
// - the key is in table gatehouse.gatehouse_mask_key, owned by the NOLOGIN role
//   gatehouse_mask_owner, with no privilege for anyone else: Gatehouse's own role cannot read it;
// - only HMAC pads derived from the key are stored, and the functions that use them are SECURITY
//   DEFINER (owned by gatehouse_mask_owner, search_path pinned), EXECUTE granted to Gatehouse's
//   upstream role only; their bodies hold no key material, so pg_proc, EXPLAIN and error text
//   show none;
// - clients cannot call them: Gatehouse refuses any statement naming the `gatehouse` schema or a
//   `gatehouse_mask*` routine or relation (enforce/reserved-names.ts), so the functions run only inside
//   the derived tables Gatehouse writes, over values read from the masked table itself.

import { createHash, randomBytes } from 'node:crypto';

export const MASK_OWNER_ROLE = 'gatehouse_mask_owner';
export const MASK_KEY_TABLE = 'gatehouse.gatehouse_mask_key';

/** HMAC-SHA256 inner and outer pads of a key (RFC 2104): HMAC(k, m) = H(opad || H(ipad || m)). */
export function hmacPads(key: Buffer): { ipad: Buffer; opad: Buffer } {
  const block = Buffer.alloc(64);
  (key.length > 64 ? createHash('sha256').update(key).digest() : key).copy(block);
  const ipad = Buffer.alloc(64);
  const opad = Buffer.alloc(64);
  for (let i = 0; i < 64; i++) {
    ipad[i] = block[i]! ^ 0x36;
    opad[i] = block[i]! ^ 0x5c;
  }
  return { ipad, opad };
}

export function newMaskKey(): Buffer {
  return randomBytes(32);
}

function literal(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Statements that create the schema, the key table (empty) and the functions; idempotent. */
export function setupStatements(grantTo: string): string[] {
  const role = ident(grantTo);
  const owner = ident(MASK_OWNER_ROLE);
  const definer = `SECURITY DEFINER SET search_path = pg_catalog, pg_temp`;
  const fns = [
    'gatehouse.gatehouse_mask_digest(text, text, text)',
    'gatehouse.gatehouse_mask_hash(text, text)',
    'gatehouse.gatehouse_mask_fake(text, text, text)',
    'gatehouse.gatehouse_mask_fake_date(text, date)',
  ];
  // Every keyed value is HMAC-SHA256(key, domain || 0x00 || purpose || 0x00 || value): `domain` names
  // the masked column ("schema.table.column"), so equal values hash differently in different
  // columns and a column an identity can write is no oracle for another one (red-team R4-3);
  // `purpose` keeps the hash and each fake of one column apart. PL/pgSQL: its cached plan reads the
  // key row once per call, cheaper than an SQL function's executor start per call.
  const keyed = (domain: string, purpose: string, value: string): string =>
    `sha256(k.opad || sha256(k.ipad || convert_to(${domain}, 'UTF8') || '\\x00'::bytea || convert_to(${purpose}, 'UTF8') || '\\x00'::bytea || convert_to(${value}, 'UTF8')))`;
  const readKey = `SELECT g.ipad, g.opad INTO k FROM gatehouse.gatehouse_mask_key g WHERE g.id = 1;
         IF k.ipad IS NULL THEN
           RAISE EXCEPTION 'the Gatehouse masking key is missing in this database' USING ERRCODE = '55000', HINT = 'Run ''gatehouse db setup'' for this database.';
         END IF;`;
  return [
    `DO $gh$ BEGIN
       IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = ${literal(MASK_OWNER_ROLE)}) THEN
         CREATE ROLE ${owner} NOLOGIN;
       END IF;
     EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; -- created meanwhile by another setup
     END $gh$`,
    `CREATE SCHEMA IF NOT EXISTS gatehouse AUTHORIZATION ${owner}`,
    `REVOKE ALL ON SCHEMA gatehouse FROM PUBLIC`,
    `CREATE TABLE IF NOT EXISTS ${MASK_KEY_TABLE} (
       id integer PRIMARY KEY CHECK (id = 1),
       ipad bytea NOT NULL,
       opad bytea NOT NULL,
       created_at timestamptz NOT NULL DEFAULT pg_catalog.now())`,
    `ALTER TABLE ${MASK_KEY_TABLE} OWNER TO ${owner}`,
    `REVOKE ALL ON ${MASK_KEY_TABLE} FROM PUBLIC`,
    // Functions of earlier releases (one key domain for every column): gone, so nothing can call them.
    `DROP FUNCTION IF EXISTS gatehouse.gatehouse_mask_hash(text), gatehouse.gatehouse_mask_digest(text),
       gatehouse.gatehouse_mask_fake(text, text), gatehouse.gatehouse_mask_fake_date(date)`,
    `CREATE OR REPLACE FUNCTION gatehouse.gatehouse_mask_digest(domain text, purpose text, v text) RETURNS bytea
       LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE ${definer}
       AS $gh$ DECLARE k record; BEGIN
         ${readKey}
         RETURN ${keyed('domain', 'purpose', 'v')};
       END $gh$`,
    `CREATE OR REPLACE FUNCTION gatehouse.gatehouse_mask_hash(domain text, v text) RETURNS text
       LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE ${definer}
       AS $gh$ DECLARE k record; BEGIN
         ${readKey}
         RETURN 'h:' || left(encode(${keyed('domain', "'hash'", 'v')}, 'hex'), 16);
       END $gh$`, // the digest inlined: one call per value, not two
    // Format-preserving fakes: every digit replaced by one derived from the keyed digest, every
    // other character kept; an SSN gets area 9xx (never issued), a phone number 555-01xx in its
    // last seven digits (reserved for fiction); an email becomes an address at example.invalid.
    `CREATE OR REPLACE FUNCTION gatehouse.gatehouse_mask_fake(kind text, domain text, v text) RETURNS text
       LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE ${definer}
       AS $gh$
       DECLARE
         d bytea := gatehouse.gatehouse_mask_digest(domain, 'fake_' || kind, v);
         n integer := length(regexp_replace(v, '[^0-9]', '', 'g'));
         digits text := '';
         out text := '';
         c text;
         i integer := 0;
       BEGIN
         IF kind = 'email' THEN
           RETURN 'user-' || left(encode(d, 'hex'), 10) || '@example.invalid';
         END IF;
         FOR j IN 0..n - 1 LOOP
           digits := digits || (get_byte(d, j % 32) % 10)::text;
         END LOOP;
         IF kind = 'ssn' AND n >= 1 THEN
           digits := '9' || substr(digits, 2);
         ELSIF kind = 'phone' AND n >= 7 THEN
           digits := substr(digits, 1, n - 7) || '55501' || substr(digits, n - 1, 2);
         END IF;
         FOREACH c IN ARRAY regexp_split_to_array(v, '') LOOP
           IF c ~ '^[0-9]$' THEN
             i := i + 1;
             out := out || substr(digits, i, 1);
           ELSE
             out := out || c;
           END IF;
         END LOOP;
         RETURN out;
       END $gh$`,
    // A date in the same year: the year stays (for identities allowed to see it), month and day
    // come from the keyed digest (day 1-365, so the year never changes). Infinity stays infinity.
    `CREATE OR REPLACE FUNCTION gatehouse.gatehouse_mask_fake_date(domain text, v date) RETURNS date
       LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE ${definer}
       AS $gh$ DECLARE d bytea; BEGIN
         IF NOT isfinite(v) THEN RETURN v; END IF;
         d := gatehouse.gatehouse_mask_digest(domain, 'fake_date', v::text);
         RETURN make_date(extract(year FROM v)::integer, 1, 1) + ((get_byte(d, 0) * 256 + get_byte(d, 1)) % 365);
       END $gh$`,
    ...fns.flatMap((fn) => [
      `ALTER FUNCTION ${fn} OWNER TO ${owner}`,
      `REVOKE ALL ON FUNCTION ${fn} FROM PUBLIC`,
    ]),
    `GRANT USAGE ON SCHEMA gatehouse TO ${role}`,
    ...fns.filter((fn) => !fn.includes('digest')).map((fn) => `GRANT EXECUTE ON FUNCTION ${fn} TO ${role}`),
  ];
}

/** Inserts the key's pads unless a key exists (or replaces it when `rotate`). */
export function keyStatement(key: Buffer, rotate: boolean): { text: string; values: string[] } {
  const { ipad, opad } = hmacPads(key);
  const conflict = rotate ? 'DO UPDATE SET ipad = EXCLUDED.ipad, opad = EXCLUDED.opad, created_at = pg_catalog.now()' : 'DO NOTHING';
  return {
    text: `INSERT INTO ${MASK_KEY_TABLE} (id, ipad, opad) VALUES (1, pg_catalog.decode($1, 'hex'), pg_catalog.decode($2, 'hex')) ON CONFLICT (id) ${conflict}`,
    values: [ipad.toString('hex'), opad.toString('hex')],
  };
}
