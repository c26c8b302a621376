// Oversized or untrustworthy startup input gets the PostgreSQL error a client can show, not a reset:
// a 1 MiB password is refused with 28P01 and audited, an oversized startup packet with 08P01, and a
// token issued an hour in the future with 28P01.

import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { importJWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_AUDIENCE, DEV_ISSUER, ensureDevKeys } from '../src/auth/dev-keys.ts';
import { decodeErrorFields } from '../src/wire/backend.ts';
import { connectSqlstate, startTestGateway, type TestGateway } from './support/harness.ts';

const login = (port: number, password: string) => connectSqlstate({ host: '127.0.0.1', port, user: 'agent', database: 'postgres', password });

/** Writes the bytes, then collects everything until the gateway closes; `reset`: it ended with ECONNRESET. */
function exchange(port: number, bytes: Buffer): Promise<{ got: Buffer; reset: boolean }> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    let reset = false;
    sock.on('data', (d) => got.push(d));
    sock.on('error', (e: NodeJS.ErrnoException) => (reset = e.code === 'ECONNRESET'));
    sock.on('close', () => resolve({ got: Buffer.concat(got), reset }));
    sock.on('connect', () => sock.write(bytes));
  });
}

/** The SQLSTATE of the first ErrorResponse in a byte stream from the gateway. */
function firstErrorCode(bytes: Buffer): string | null {
  for (let i = 0; i + 5 <= bytes.length; ) {
    const type = bytes[i]!;
    const length = bytes.readInt32BE(i + 1);
    if (type === 0x45) return decodeErrorFields(bytes.subarray(i + 5, i + 1 + length))['C'] ?? null;
    i += 1 + length;
  }
  return null;
}

describe('handshake limits', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway();
  });
  afterAll(async () => t?.close());

  it('a 1 MiB password gets 28P01 (not a reset) and an auth_failed audit record', async () => {
    const before = t.audit().filter((r) => r.type === 'session' && r.event === 'auth_failed').length;
    expect(await login(t.port, 'x'.repeat(1024 * 1024))).toBe('28P01');
    const records = await t.auditUntil((rs) => rs.filter((r) => r.type === 'session' && r.event === 'auth_failed').length > before);
    const last = records.filter((r) => r.type === 'session' && r.event === 'auth_failed').at(-1);
    expect(last?.type === 'session' ? last.reason : '').toContain('over the limit');
    // The gateway serves on.
    const c = await t.client(await t.token('after-big-password', ['agents']));
    expect((await c.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
  });

  it('an oversized startup packet gets 08P01 before the connection closes, and a protocol_error audit record', async () => {
    const errors = (): number => t.audit().filter((r) => r.type === 'session' && r.event === 'protocol_error').length;
    const before = errors();
    const packet = Buffer.alloc(200_000, 0x61);
    packet.writeInt32BE(packet.length, 0);
    packet.writeInt32BE(196608, 4);
    const { got } = await exchange(t.port, packet);
    expect(firstErrorCode(got)).toBe('08P01');
    const records = await t.auditUntil((rs) => rs.filter((r) => r.type === 'session' && r.event === 'protocol_error').length > before);
    const last = records.filter((r) => r.type === 'session' && r.event === 'protocol_error').at(-1);
    expect(last?.type === 'session' ? last.reason : '').toContain('startup packet length 200000');
  });

  it('a token issued an hour in the future is refused with 28P01', async () => {
    const keys = await ensureDevKeys(t.keyDir);
    const key = await importJWK(JSON.parse(await readFile(keys.privateKeyPath, 'utf8')), 'ES256');
    const now = Math.floor(Date.now() / 1000);
    const sign = (iat: number) =>
      new SignJWT({ groups: ['agents'] })
        .setProtectedHeader({ alg: 'ES256', kid: keys.kid })
        .setSubject('time-traveller')
        .setIssuer(DEV_ISSUER)
        .setAudience(DEV_AUDIENCE)
        .setIssuedAt(iat)
        .setExpirationTime(now + 7200)
        .sign(key);
    expect(await login(t.port, await sign(now + 3600))).toBe('28P01');
    expect(await login(t.port, await sign(now))).toBeNull();
  });
});
