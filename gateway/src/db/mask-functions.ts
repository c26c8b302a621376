// What `gatehouse db setup` installs in an upstream database so that keyed masks (`hash`, the
// fakes) are computed by PostgreSQL itself: a key no client can read, and SECURITY DEFINER
// functions that use it. Design (docs/data-path.md, "Where the hash key lives"):
// - the key is in table gatehouse.gatehouse_mask_key, owned by the NOLOGIN role
//   gatehouse_mask_owner, with no privilege for anyone else: Gatehouse's own role cannot read it;
// - only HMAC pads derived from the key are stored, and the functions that use them are SECURITY
//   DEFINER (owned by gatehouse_mask_owner, every name in them schema-qualified), EXECUTE granted to Gatehouse's
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

/** `a OPERATOR(pg_catalog.op) b`: an operator no search_path can replace. */
const op = (o: string): string => `OPERATOR(pg_catalog.${o})`;
const cat = op('||');

/**
 * Which code computes the keyed digest and hash: `c` when the optional extension gatehouse_mask
 * (extension/gatehouse_mask) provides gatehouse_mask_digest and gatehouse_mask_hash, `plpgsql`
 * otherwise. The fakes stay PL/pgSQL either way (they call gatehouse_mask_digest). Outputs are equal.
 */
export type MaskImplementation = 'c' | 'plpgsql';

/** The extension providing the C functions (CREATE EXTENSION gatehouse_mask, by `db setup`). */
export const MASK_EXTENSION = 'gatehouse_mask';

/** Statements that create the owner role, the schema and the key table (empty); idempotent. */
export function keyTableStatements(): string[] {
  const owner = ident(MASK_OWNER_ROLE);
  return [
    `DO $gh$ BEGIN
       IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = ${literal(MASK_OWNER_ROLE)}) THEN
         CREATE ROLE ${owner} NOLOGIN;
       END IF;
     EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; -- created meanwhile by another setup
     END $gh$`,
    `CREATE SCHEMA IF NOT EXISTS gatehouse AUTHORIZATION ${owner}`,
    // A schema someone else made before setup is not adopted: its owner may drop or replace what setup
    // puts in it, and may have left a key table with a trigger of its own (red-team round 18b, R18b-4).
    `DO $gh$ DECLARE other text; BEGIN
       SELECT n.nspowner::pg_catalog.regrole::text INTO other FROM pg_catalog.pg_namespace n
        WHERE n.nspname = 'gatehouse' AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
          WHERE r.oid = n.nspowner AND (r.rolname = ${literal(MASK_OWNER_ROLE)} OR r.rolsuper));
       IF other IS NOT NULL THEN
         RAISE EXCEPTION 'schema gatehouse exists and belongs to %, neither ${MASK_OWNER_ROLE} nor a superuser', other
           USING ERRCODE = '42501', HINT = 'Check what it holds, drop it (DROP SCHEMA gatehouse CASCADE) and run gatehouse db setup again.';
       END IF;
     END $gh$`,
    `REVOKE ALL ON SCHEMA gatehouse FROM PUBLIC`,
    `CREATE TABLE IF NOT EXISTS ${MASK_KEY_TABLE} (
       id integer PRIMARY KEY CHECK (id = 1),
       ipad bytea NOT NULL,
       opad bytea NOT NULL,
       created_at timestamptz NOT NULL DEFAULT pg_catalog.now())`,
    `ALTER TABLE ${MASK_KEY_TABLE} OWNER TO ${owner}`,
    `REVOKE ALL ON ${MASK_KEY_TABLE} FROM PUBLIC`,
  ];
}

/**
 * Statements that create the functions (after keyTableStatements); idempotent. With `c`, the
 * extension already created gatehouse_mask_digest and gatehouse_mask_hash: they are left alone (a
 * CREATE OR REPLACE would turn them back into PL/pgSQL) and only owned, revoked and granted here.
 * `cLast4`: the extension (1.1 and later) has gatehouse_mask_last4, granted like the others.
 */
export function functionStatements(grantTo: string, implementation: MaskImplementation, cLast4 = false): string[] {
  const role = ident(grantTo);
  const owner = ident(MASK_OWNER_ROLE);
  // No `SET search_path` clause: it costs a configuration change and restore on every call (one
  // call per masked value; measured in docs/benchmarks.md). Instead every function, operator and
  // type in the bodies is qualified with pg_catalog or gatehouse, so the caller's search_path
  // (which a definer function inherits) cannot substitute any of them; pg_temp is never searched
  // for functions or operators, and qualified names never search it.
  const definer = 'SECURITY DEFINER';
  const fns = [
    'gatehouse.gatehouse_mask_digest(text, text, text)',
    'gatehouse.gatehouse_mask_hash(text, text)',
    'gatehouse.gatehouse_mask_fake(text, text, text)',
    'gatehouse.gatehouse_mask_fake_date(text, date)',
    ...(implementation === 'c' && cLast4 ? ['gatehouse.gatehouse_mask_last4(text)'] : []),
  ];
  // Every keyed value is HMAC-SHA256(key, domain || 0x00 || purpose || 0x00 || value): `domain` names
  // the masked column ("schema.table.column"), so equal values hash differently in different
  // columns and a column an identity can write is no oracle for another one (red-team R4-3);
  // `purpose` keeps the hash and each fake of one column apart. PL/pgSQL: its cached plan reads the
  // key row once per call, cheaper than an SQL function's executor start per call, and the hash is
  // then a simple expression (cheaper than computing it inside the key's SELECT, measured).
  const utf8 = (e: string): string => `pg_catalog.convert_to(${e}, 'UTF8')`;
  // An E'' literal: the same byte whatever standard_conforming_strings the caller set.
  const zero = `E'\\\\x00'::pg_catalog.bytea`;
  const keyed = (domain: string, purpose: string, value: string): string =>
    `pg_catalog.sha256(opad ${cat} pg_catalog.sha256(ipad ${cat} ${utf8(domain)} ${cat} ${zero} ${cat} ${utf8(purpose)} ${cat} ${zero} ${cat} ${utf8(value)}))`;
  const keyVars = 'ipad pg_catalog.bytea; opad pg_catalog.bytea;';
  const readKey = `SELECT g.ipad, g.opad INTO ipad, opad FROM gatehouse.gatehouse_mask_key g WHERE g.id ${op('=')} 1;
         IF ipad IS NULL THEN
           RAISE EXCEPTION 'the Gatehouse masking key is missing in this database' USING ERRCODE = '55000', HINT = 'Run ''gatehouse db setup'' for this database.';
         END IF;`;
  const inPlpgsql = (sql: string): string[] => (implementation === 'plpgsql' ? [sql] : []);
  return [
    // Functions of earlier releases (one key domain for every column): gone, so nothing can call them.
    `DROP FUNCTION IF EXISTS gatehouse.gatehouse_mask_hash(text), gatehouse.gatehouse_mask_digest(text),
       gatehouse.gatehouse_mask_fake(text, text), gatehouse.gatehouse_mask_fake_date(date)`,
    ...inPlpgsql(`CREATE OR REPLACE FUNCTION gatehouse.gatehouse_mask_digest(domain pg_catalog.text, purpose pg_catalog.text, v pg_catalog.text) RETURNS pg_catalog.bytea
       LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE ${definer}
       AS $gh$ DECLARE ${keyVars} BEGIN
         ${readKey}
         RETURN ${keyed('domain', 'purpose', 'v')};
       END $gh$`),
    ...inPlpgsql(`CREATE OR REPLACE FUNCTION gatehouse.gatehouse_mask_hash(domain pg_catalog.text, v pg_catalog.text) RETURNS pg_catalog.text
       LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE ${definer}
       AS $gh$ DECLARE ${keyVars} BEGIN
         ${readKey}
         RETURN 'h:' ${cat} pg_catalog."left"(pg_catalog.encode(${keyed('domain', "'hash'", 'v')}, 'hex'), 16);
       END $gh$`), // the digest inlined: one call per value, not two
    // Format-preserving fakes: every digit replaced by one derived from the keyed digest, every
    // other character kept; an SSN gets area 9xx (never issued), a phone number 555-01xx in its
    // last seven digits (reserved for fiction); an email becomes an address at example.invalid.
    `CREATE OR REPLACE FUNCTION gatehouse.gatehouse_mask_fake(kind pg_catalog.text, domain pg_catalog.text, v pg_catalog.text) RETURNS pg_catalog.text
       LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE ${definer}
       AS $gh$
       DECLARE
         d pg_catalog.bytea := gatehouse.gatehouse_mask_digest(domain, 'fake_' ${cat} kind, v);
         n pg_catalog.int4 := pg_catalog.length(pg_catalog.regexp_replace(v, '[^0-9]', '', 'g'));
         digits pg_catalog.text := '';
         out pg_catalog.text := '';
         c pg_catalog.text;
         i pg_catalog.int4 := 0;
       BEGIN
         IF kind ${op('=')} 'email' THEN
           RETURN 'user-' ${cat} pg_catalog."left"(pg_catalog.encode(d, 'hex'), 10) ${cat} '@example.invalid';
         END IF;
         FOR j IN 0..n ${op('-')} 1 LOOP
           digits := digits ${cat} CAST(pg_catalog.get_byte(d, j ${op('%')} 32) ${op('%')} 10 AS pg_catalog.text);
         END LOOP;
         IF kind ${op('=')} 'ssn' AND n ${op('>=')} 1 THEN
           digits := '9' ${cat} pg_catalog.substr(digits, 2);
         ELSIF kind ${op('=')} 'phone' AND n ${op('>=')} 7 THEN
           digits := pg_catalog.substr(digits, 1, n ${op('-')} 7) ${cat} '55501' ${cat} pg_catalog.substr(digits, n ${op('-')} 1, 2);
         END IF;
         FOREACH c IN ARRAY pg_catalog.regexp_split_to_array(v, '') LOOP
           IF c ${op('~')} '^[0-9]$' THEN
             i := i ${op('+')} 1;
             out := out ${cat} pg_catalog.substr(digits, i, 1);
           ELSE
             out := out ${cat} c;
           END IF;
         END LOOP;
         RETURN out;
       END $gh$`,
    // A date in the same year: the year stays (for identities allowed to see it), month and day
    // come from the keyed digest (day 1-365, so the year never changes). Infinity stays infinity.
    `CREATE OR REPLACE FUNCTION gatehouse.gatehouse_mask_fake_date(domain pg_catalog.text, v pg_catalog.date) RETURNS pg_catalog.date
       LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE ${definer}
       AS $gh$ DECLARE d pg_catalog.bytea; BEGIN
         IF NOT pg_catalog.isfinite(v) THEN RETURN v; END IF;
         d := gatehouse.gatehouse_mask_digest(domain, 'fake_date', CAST(v AS pg_catalog.text));
         RETURN pg_catalog.make_date(CAST(EXTRACT(year FROM v) AS pg_catalog.int4), 1, 1)
           ${op('+')} ((pg_catalog.get_byte(d, 0) ${op('*')} 256 ${op('+')} pg_catalog.get_byte(d, 1)) ${op('%')} 365);
       END $gh$`,
    // The extension's key-change trigger: re-enabled if someone disabled it (without it, backends
    // keep a rotated key's predecessor until they reconnect).
    ...(implementation === 'c' ? [`ALTER TABLE ${MASK_KEY_TABLE} ENABLE TRIGGER gatehouse_mask_key_changed`] : []),
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
