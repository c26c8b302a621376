import { createHash, createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { functionStatements, hmacPads, keyStatement, keyTableStatements } from './mask-functions.ts';

const setupStatements = (role: string, impl: 'c' | 'plpgsql' = 'plpgsql'): string[] => [...keyTableStatements(), ...functionStatements(role, impl)];

const sha256 = (...parts: Buffer[]): Buffer => createHash('sha256').update(Buffer.concat(parts)).digest();

describe('mask functions', () => {
  it('the stored pads compute exactly HMAC-SHA256 with the key, as the database function does', () => {
    for (const key of [randomBytes(32), randomBytes(64), randomBytes(100)]) {
      const { ipad, opad } = hmacPads(key);
      const message = Buffer.from('123-45-6789', 'utf8');
      expect(sha256(opad, sha256(ipad, message))).toEqual(createHmac('sha256', key).update(message).digest());
    }
  });

  it('keeps no key material in the function bodies, and grants EXECUTE only to the named role', () => {
    const key = randomBytes(32);
    const { ipad, opad } = hmacPads(key);
    const ddl = setupStatements('gatehouse_gw').join('\n');
    for (const secret of [key, ipad, opad]) expect(ddl).not.toContain(secret.toString('hex'));
    expect(ddl).toMatch(/REVOKE ALL ON FUNCTION gatehouse\.gatehouse_mask_hash\(text, text\) FROM PUBLIC/);
    expect(ddl).toMatch(/GRANT EXECUTE ON FUNCTION gatehouse\.gatehouse_mask_hash\(text, text\) TO "gatehouse_gw"/);
    expect(ddl).not.toMatch(/GRANT EXECUTE ON FUNCTION gatehouse\.gatehouse_mask_digest/);
    // The key goes in as bound values, never in the statement text (which the server may log).
    const insert = keyStatement(key, false);
    expect(insert.text).not.toContain(ipad.toString('hex'));
    expect(insert.values).toEqual([ipad.toString('hex'), opad.toString('hex')]);
  });

  it('pins no search_path per call: every function and operator in the bodies is schema-qualified', () => {
    const fns = setupStatements('gatehouse_gw').filter((sql) => sql.startsWith('CREATE OR REPLACE FUNCTION'));
    expect(fns).toHaveLength(4);
    for (const sql of fns) {
      expect(sql).not.toMatch(/\bSET\s+search_path\b/i);
      const body = sql.slice(sql.indexOf('$gh$'));
      // Every name followed by "(" is qualified (or a keyword of PL/pgSQL or SQL syntax).
      for (const m of body.matchAll(/([A-Za-z_."]+)\(/g)) {
        const name = m[1]!;
        if (/^(pg_catalog|gatehouse)\./.test(name) || /^(OPERATOR|CAST|EXTRACT|IF|AND|IN|ARRAY|NOT)$/i.test(name) || name === '') continue;
        throw new Error(`unqualified call ${name}( in ${sql.slice(0, 80)}`);
      }
      // No bare operator: each one is OPERATOR(pg_catalog.x).
      const bare = body.replace(/OPERATOR\(pg_catalog\.[^)]+\)/g, '').replace(/'[^']*'/g, "''").replace(/:=/g, '').replace(/\.\./g, '').replace(/\b(ERRCODE|HINT) =/g, ''); // RAISE options are no operators
      expect(bare).not.toMatch(/\|\||[^<>!]=|[-+*%~]|>=|<=/);
    }
  });

  it('with the C extension, leaves its digest and hash alone (a CREATE OR REPLACE would undo it) but still owns, revokes and grants them', () => {
    const ddl = setupStatements('gatehouse_gw', 'c');
    const created = ddl.filter((sql) => sql.startsWith('CREATE OR REPLACE FUNCTION')).map((sql) => /gatehouse\.(\w+)\(/.exec(sql)![1]);
    expect(created).toEqual(['gatehouse_mask_fake', 'gatehouse_mask_fake_date']);
    expect(ddl).toContain('ALTER FUNCTION gatehouse.gatehouse_mask_hash(text, text) OWNER TO "gatehouse_mask_owner"');
    expect(ddl).toContain('GRANT EXECUTE ON FUNCTION gatehouse.gatehouse_mask_hash(text, text) TO "gatehouse_gw"');
  });
});
