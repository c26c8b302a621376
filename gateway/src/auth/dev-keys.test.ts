import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { DEV_AUDIENCE, DEV_ISSUER, ensureDevKeys, mintDevToken } from './dev-keys.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-devkeys-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('ensureDevKeys', () => {
  it('generates a key pair once and reuses it', async () => {
    const keyDir = join(dir, 'k');
    const [a, b] = await Promise.all([ensureDevKeys(keyDir), ensureDevKeys(keyDir)]);
    const c = await ensureDevKeys(keyDir);
    expect(a.kid).toBe(b.kid);
    expect(c.kid).toBe(a.kid);
    expect(c.issuer).toBe(DEV_ISSUER);
    expect(c.audience).toBe(DEV_AUDIENCE);
    expect((await stat(c.privateKeyPath)).mode & 0o077).toBe(0);
    const jwks = JSON.parse(await readFile(c.jwksPath, 'utf8'));
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0].kid).toBe(c.kid);
    expect(jwks.keys[0].d).toBeUndefined();
    expect(await readFile(join(keyDir, 'README.txt'), 'utf8')).toMatch(/NOT FOR PRODUCTION/);
  });
});

describe('mintDevToken', () => {
  it('mints a token with the requested claims', async () => {
    const token = await mintDevToken({ keyDir: join(dir, 'm'), subject: 'sam', groups: ['x'], ttlSeconds: 120 });
    const header = decodeProtectedHeader(token);
    const claims = decodeJwt(token);
    expect(header.alg).toBe('ES256');
    expect(typeof header.kid).toBe('string');
    expect(claims).toMatchObject({ sub: 'sam', groups: ['x'], roles: [], iss: DEV_ISSUER, aud: DEV_AUDIENCE });
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(120);
  });
});
