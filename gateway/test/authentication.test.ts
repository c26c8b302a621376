// Client authentication: the password is a JWT; every bad token is refused with 28P01 and audited.

import { generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectSqlstate, startTestGateway, type TestGateway } from './support/harness.ts';
import { DEV_AUDIENCE, DEV_ISSUER, mintDevToken } from '../src/auth/dev-keys.ts';

function connectError(port: number, password: string): Promise<string | null> {
  return connectSqlstate({ host: '127.0.0.1', port, user: 'agent', database: 'postgres', password });
}

function b64(obj: unknown): string {
  return Buffer.from(JSON.stringify(obj)).toString('base64url');
}

describe('JWT authentication', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway();
  });
  afterAll(async () => t?.close());

  it('accepts a valid token and puts its identity into decisions', async () => {
    const c = await t.client(await t.token('ci-job-42', ['agents']));
    expect((await c.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
    const rec = t.audit().find((r) => r.type === 'session' && r.event === 'auth_ok' && r.identity?.subject === 'ci-job-42');
    expect(rec).toBeDefined();
  });

  it('refuses an expired token', async () => {
    expect(await connectError(t.port, await t.token('late', ['agents'], -120))).toBe('28P01');
  });

  it('refuses a token signed by a key that is not in the JWKS', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const other = await new SignJWT({ groups: ['agents'] })
      .setProtectedHeader({ alg: 'ES256' })
      .setSubject('x')
      .setIssuer(DEV_ISSUER)
      .setAudience(DEV_AUDIENCE)
      .setExpirationTime('1h')
      .sign(privateKey);
    // Signed by a key that is not in the JWKS: bad signature.
    expect(await connectError(t.port, other)).toBe('28P01');
  });

  it('refuses alg none, garbage and empty passwords', async () => {
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'x', iss: DEV_ISSUER, aud: DEV_AUDIENCE, exp: 9999999999, groups: ['breakglass'] })}.`;
    expect(await connectError(t.port, none)).toBe('28P01');
    expect(await connectError(t.port, 'not-a-jwt')).toBe('28P01');
    expect(await connectError(t.port, 'a.b.c')).toBe('28P01');
  });

  it('refuses a token whose claims are changed after signing', async () => {
    const good = await t.token('agent-1', ['agents']);
    const [h, , s] = good.split('.');
    const forged = `${h}.${b64({ sub: 'agent-1', iss: DEV_ISSUER, aud: DEV_AUDIENCE, exp: 9999999999, groups: ['breakglass'] })}.${s}`;
    expect(await connectError(t.port, forged)).toBe('28P01');
  });

  it('audits every refused login', async () => {
    const before = t.audit().filter((r) => r.type === 'session' && r.event === 'auth_failed').length;
    await connectError(t.port, 'garbage');
    const after = t.audit().filter((r) => r.type === 'session' && r.event === 'auth_failed');
    expect(after.length).toBe(before + 1);
    const last = after.at(-1);
    expect(last?.type === 'session' ? last.reason : null).toBeTruthy();
  });

  it('refuses correctly signed tokens for another audience or issuer', async () => {
    const wrongAud = await mintDevToken({ keyDir: t.keyDir, subject: 'x', groups: ['agents'], ttlSeconds: 600, audience: 'someone-else' });
    const wrongIss = await mintDevToken({ keyDir: t.keyDir, subject: 'x', groups: ['agents'], ttlSeconds: 600, issuer: 'https://evil.invalid' });
    expect(await connectError(t.port, wrongAud)).toBe('28P01');
    expect(await connectError(t.port, wrongIss)).toBe('28P01');
  });
});
