import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT, UnsecuredJWT, exportJWK, exportSPKI, generateKeyPair, importJWK } from 'jose';
import type { GatehouseConfig } from '../config/types.ts';
import { GatehouseError } from '../errors.ts';
import { DEV_AUDIENCE, DEV_ISSUER, ensureDevKeys, mintDevToken } from './dev-keys.ts';
import type { DevKeys } from './dev-keys.ts';
import { createTokenVerifier } from './token-verifier.ts';
import type { TokenVerifier } from './token-verifier.ts';

let dir: string;
let keys: DevKeys;
let verifier: TokenVerifier;

function authConfig(overrides: Partial<GatehouseConfig['auth']> = {}): GatehouseConfig['auth'] {
  return {
    issuer: DEV_ISSUER,
    audience: DEV_AUDIENCE,
    algorithms: ['ES256', 'RS256'],
    jwks: { kind: 'file', path: 'dev-keys/jwks.json' },
    groupsClaim: 'groups',
    rolesClaim: 'roles',
    plaintextPassword: 'loopback',
    clockToleranceSeconds: 5,
    ...overrides,
  };
}

async function expectAuthFailed(promise: Promise<unknown>, message: RegExp): Promise<void> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GatehouseError);
  expect((error as GatehouseError).code).toBe('AUTH_FAILED');
  expect((error as GatehouseError).sqlstate).toBe('28P01');
  expect((error as GatehouseError).message).toMatch(message);
}

async function privateKey(): Promise<CryptoKey> {
  const jwk = JSON.parse(await readFile(keys.privateKeyPath, 'utf8'));
  return (await importJWK(jwk, 'ES256')) as CryptoKey;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-auth-'));
  keys = await ensureDevKeys(join(dir, 'dev-keys'));
  verifier = createTokenVerifier(authConfig(), dir);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('createTokenVerifier with a JWKS file', () => {
  it('returns the identity of a valid token', async () => {
    const token = await mintDevToken({
      keyDir: join(dir, 'dev-keys'),
      subject: 'alice',
      groups: ['analysts', 'oncall'],
      roles: ['reader'],
      ttlSeconds: 300,
      email: 'alice@example.com',
    });
    await expect(verifier.verify(token)).resolves.toEqual({
      subject: 'alice',
      issuer: DEV_ISSUER,
      groups: ['analysts', 'oncall'],
      roles: ['reader'],
      name: 'alice@example.com',
    });
  });

  it('accepts groups as a space or comma separated string and dotted claim paths', async () => {
    const token = await new SignJWT({ grp: 'a, b c', realm_access: { roles: ['admin'] }, name: 'Bob' })
      .setProtectedHeader({ alg: 'ES256', kid: keys.kid })
      .setSubject('bob')
      .setIssuer(DEV_ISSUER)
      .setAudience(DEV_AUDIENCE)
      .setExpirationTime('5m')
      .sign(await privateKey());
    const v = createTokenVerifier(authConfig({ groupsClaim: 'grp', rolesClaim: 'realm_access.roles' }), dir);
    const identity = await v.verify(token);
    expect(identity.groups).toEqual(['a', 'b', 'c']);
    expect(identity.roles).toEqual(['admin']);
    expect(identity.name).toBe('Bob');
  });

  it('refuses a token issued an hour in the future, and accepts one within the clock tolerance', async () => {
    const now = Math.floor(Date.now() / 1000);
    const signed = async (iat: number): Promise<string> =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'ES256', kid: keys.kid })
        .setSubject('carol')
        .setIssuer(DEV_ISSUER)
        .setAudience(DEV_AUDIENCE)
        .setIssuedAt(iat)
        .setExpirationTime(now + 7200)
        .sign(await privateKey());
    await expectAuthFailed(verifier.verify(await signed(now + 3600)), /issued in the future \(iat\)/);
    await expect(verifier.verify(await signed(now + 2))).resolves.toMatchObject({ subject: 'carol' });
  });

  it('refuses a groups claim of the wrong shape', async () => {
    const token = await new SignJWT({ groups: [1, 2] })
      .setProtectedHeader({ alg: 'ES256', kid: keys.kid })
      .setSubject('bob')
      .setIssuer(DEV_ISSUER)
      .setAudience(DEV_AUDIENCE)
      .setExpirationTime('5m')
      .sign(await privateKey());
    await expectAuthFailed(verifier.verify(token), /claim 'groups'/);
  });

  it('refuses an expired token', async () => {
    const token = await mintDevToken({ keyDir: join(dir, 'dev-keys'), subject: 'a', groups: [], ttlSeconds: -60 });
    await expectAuthFailed(verifier.verify(token), /token expired/);
  });

  it('accepts a token expired within the clock tolerance', async () => {
    const token = await mintDevToken({ keyDir: join(dir, 'dev-keys'), subject: 'a', groups: [], ttlSeconds: -2 });
    await expect(verifier.verify(token)).resolves.toMatchObject({ subject: 'a' });
  });

  it.each([
    ['audience', { audience: 'someone-else' }, /audience mismatch/],
    ['issuer', { issuer: 'https://evil.invalid' }, /issuer mismatch/],
  ])('refuses the wrong %s', async (_claim, wrong, reason) => {
    const token = await mintDevToken({ keyDir: join(dir, 'dev-keys'), subject: 'a', groups: [], ttlSeconds: 60, ...wrong });
    await expectAuthFailed(verifier.verify(token), reason);
  });

  it('refuses a token without exp or sub', async () => {
    const noExp = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: keys.kid })
      .setSubject('a')
      .setIssuer(DEV_ISSUER)
      .setAudience(DEV_AUDIENCE)
      .sign(await privateKey());
    await expectAuthFailed(verifier.verify(noExp), /no expiry/);
    const noSub = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: keys.kid })
      .setIssuer(DEV_ISSUER)
      .setAudience(DEV_AUDIENCE)
      .setExpirationTime('5m')
      .sign(await privateKey());
    await expectAuthFailed(verifier.verify(noSub), /no subject/);
  });

  it('refuses a token signed by another key with the same kid', async () => {
    const other = await generateKeyPair('ES256');
    const token = await new SignJWT({ groups: ['admins'] })
      .setProtectedHeader({ alg: 'ES256', kid: keys.kid })
      .setSubject('mallory')
      .setIssuer(DEV_ISSUER)
      .setAudience(DEV_AUDIENCE)
      .setExpirationTime('5m')
      .sign(other.privateKey);
    await expectAuthFailed(verifier.verify(token), /signature invalid/);
  });

  it('refuses a token with an unknown kid', async () => {
    const other = await generateKeyPair('ES256');
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: 'not-in-the-set' })
      .setSubject('mallory')
      .setIssuer(DEV_ISSUER)
      .setAudience(DEV_AUDIENCE)
      .setExpirationTime('5m')
      .sign(other.privateKey);
    await expectAuthFailed(verifier.verify(token), /no matching key/);
  });

  it('refuses an unsigned alg:none token', async () => {
    const token = new UnsecuredJWT({ groups: ['admins'] })
      .setSubject('mallory')
      .setIssuer(DEV_ISSUER)
      .setAudience(DEV_AUDIENCE)
      .setExpirationTime('5m')
      .encode();
    await expectAuthFailed(verifier.verify(token), /algorithm not allowed/);
  });

  it('refuses HS256 signed with the public key bytes (algorithm confusion)', async () => {
    const jwksText = await readFile(keys.jwksPath);
    const jwk = JSON.parse(jwksText.toString('utf8')).keys[0];
    const spki = await exportSPKI((await importJWK(jwk, 'ES256')) as CryptoKey);
    for (const secret of [jwksText, Buffer.from(spki), Buffer.from(JSON.stringify(jwk))]) {
      const token = await new SignJWT({ groups: ['admins'] })
        .setProtectedHeader({ alg: 'HS256', kid: keys.kid })
        .setSubject('mallory')
        .setIssuer(DEV_ISSUER)
        .setAudience(DEV_AUDIENCE)
        .setExpirationTime('5m')
        .sign(new Uint8Array(secret));
      await expectAuthFailed(verifier.verify(token), /algorithm not allowed/);
    }
  });

  it('refuses an allowed-by-jose but unconfigured algorithm', async () => {
    const v = createTokenVerifier(authConfig({ algorithms: ['RS256'] }), dir);
    const token = await mintDevToken({ keyDir: join(dir, 'dev-keys'), subject: 'a', groups: [], ttlSeconds: 60 });
    await expectAuthFailed(v.verify(token), /algorithm not allowed/);
  });

  it('refuses garbage and empty input with AUTH_FAILED only', async () => {
    const garbage: unknown[] = [
      '',
      'x',
      'a.b',
      'a.b.c',
      '...',
      'not a jwt at all',
      'eyJhbGciOiJFUzI1NiJ9.e30.',
      'eyJhbGciOiJFUzI1NiJ9.eyJ.sig',
      'eyJhbGciOiJFUzI1NiJ9.bm90IGpzb24.c2ln',
      `${Buffer.from('{"alg":"ES256"}').toString('base64url')}.${Buffer.from('[]').toString('base64url')}.AAAA`,
      `${Buffer.from('{"alg":["ES256"]}').toString('base64url')}.e30.AAAA`,
      `${Buffer.from('null').toString('base64url')}.e30.AAAA`,
      'a'.repeat(20_000),
      '\u0000\u0001.\u0002.\u0003',
      'a.b.c.d.e',
      null,
      undefined,
      42,
    ];
    for (const input of garbage) {
      await expectAuthFailed(verifier.verify(input as string), /./);
    }
    await expectAuthFailed(verifier.verify(''), /not a JWT/);
  });

  it('reloads the JWKS file when it changes', async () => {
    const keyDir = join(dir, 'rotating');
    const first = await ensureDevKeys(keyDir);
    const v = createTokenVerifier(authConfig({ jwks: { kind: 'file', path: first.jwksPath } }), '/');
    const token = await mintDevToken({ keyDir, subject: 'a', groups: [], ttlSeconds: 60 });
    await expect(v.verify(token)).resolves.toMatchObject({ subject: 'a' });

    // Replace the key set with an unrelated key: the old token must stop verifying.
    const other = await generateKeyPair('ES256');
    const otherJwk = { ...(await exportJWK(other.publicKey)), kid: first.kid, alg: 'ES256' };
    await writeFile(first.jwksPath, JSON.stringify({ keys: [otherJwk] }));
    const future = new Date(Date.now() + 10_000);
    await utimes(first.jwksPath, future, future);
    await expectAuthFailed(v.verify(token), /signature invalid/);

    // A broken file fails closed, and a fixed one works again.
    await writeFile(first.jwksPath, '{ not json');
    await expectAuthFailed(v.verify(token), /key set unavailable/);
    await ensureDevKeys(keyDir);
    await expect(v.verify(token)).resolves.toMatchObject({ subject: 'a' });
  });

  it('reuses a verification only until the token expires, never within the clock tolerance after it', async () => {
    let now = Date.now();
    const v = createTokenVerifier(authConfig({ clockToleranceSeconds: 0 }), dir, { now: () => now });
    const token = await mintDevToken({ keyDir: join(dir, 'dev-keys'), subject: 'brief', groups: ['g'], ttlSeconds: 1 });
    await expect(v.verify(token)).resolves.toMatchObject({ subject: 'brief', groups: ['g'] });
    await expect(v.verify(token)).resolves.toMatchObject({ subject: 'brief', groups: ['g'] });
    // The reuse clock says the token has expired: it is verified in full, and jose's clock agrees once it has.
    now += 5_000;
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await expectAuthFailed(v.verify(token), /token expired/);
  });

  it('still refuses a token that failed, however often it is sent', async () => {
    const wrongAudience = await new SignJWT({ sub: 'a' })
      .setProtectedHeader({ alg: 'ES256', kid: keys.kid })
      .setIssuer(DEV_ISSUER)
      .setAudience('someone-else')
      .setExpirationTime('1h')
      .sign(await privateKey());
    for (let i = 0; i < 3; i++) await expectAuthFailed(verifier.verify(wrongAudience), /audience mismatch/);
  });

  it('warm() reports a missing JWKS file as CONFIG_INVALID', async () => {
    const v = createTokenVerifier(authConfig({ jwks: { kind: 'file', path: 'nope/jwks.json' } }), dir);
    await expect(v.warm()).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    await expectAuthFailed(v.verify('a.b.c'), /./);
  });

  it('refuses to be configured with none or symmetric algorithms', () => {
    for (const alg of ['none', 'HS256']) {
      expect(() => createTokenVerifier(authConfig({ algorithms: ['ES256', alg] }), dir)).toThrow(
        expect.objectContaining({ code: 'CONFIG_INVALID' }),
      );
    }
    expect(() => createTokenVerifier(authConfig({ algorithms: [] }), dir)).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID' }),
    );
  });
});

describe('createTokenVerifier with a JWKS URL', () => {
  let server: Server;
  let url: string;
  let fetches = 0;
  let available = true;

  beforeAll(async () => {
    const jwks = await readFile(keys.jwksPath, 'utf8');
    server = createServer((req, res) => {
      fetches += 1;
      if (req.url !== '/.well-known/jwks.json' || !available) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(jwks);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('fetches the key set over HTTP once and verifies tokens', async () => {
    const v = createTokenVerifier(
      authConfig({ jwks: { kind: 'url', url, cacheMaxAgeSeconds: 600, cooldownSeconds: 30 } }),
      dir,
    );
    await v.warm();
    const before = fetches;
    for (let i = 0; i < 5; i++) {
      const token = await mintDevToken({ keyDir: join(dir, 'dev-keys'), subject: `u${i}`, groups: ['g'], ttlSeconds: 60 });
      await expect(v.verify(token)).resolves.toMatchObject({ subject: `u${i}`, groups: ['g'] });
    }
    expect(fetches).toBe(before);

    const expired = await mintDevToken({ keyDir: join(dir, 'dev-keys'), subject: 'a', groups: [], ttlSeconds: -60 });
    await expectAuthFailed(v.verify(expired), /token expired/);
    await expectAuthFailed(v.verify('garbage'), /not a JWT/);
  });

  it('fails closed with AUTH_FAILED when the key set cannot be fetched', async () => {
    available = false;
    try {
      const v = createTokenVerifier(
        authConfig({ jwks: { kind: 'url', url, cacheMaxAgeSeconds: 600, cooldownSeconds: 30 } }),
        dir,
      );
      const token = await mintDevToken({ keyDir: join(dir, 'dev-keys'), subject: 'a', groups: [], ttlSeconds: 60 });
      await expectAuthFailed(v.verify(token), /key set unavailable/);
      await expect(v.warm()).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    } finally {
      available = true;
    }
  });
});
