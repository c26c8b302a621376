import { describe, expect, it } from 'vitest';
import { isGatehouseError } from '../../errors.ts';
import { md5PasswordResponse } from './md5-password.ts';
import { saslPrep, ScramClient } from './scram.ts';

// RFC 7677 section 3: the example SCRAM-SHA-256 exchange (user "user", password "pencil").
const NONCE = 'rOprNGfwEbeRWgbNEkqO';
const SERVER_FIRST = 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096';
const CLIENT_FINAL =
  'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=';
const SERVER_FINAL = 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=';

async function rejectsWithUpstreamError(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    expect(isGatehouseError(e) && e.code).toBe('UPSTREAM_UNAVAILABLE');
    return (e as Error).message;
  }
  throw new Error('expected a failure');
}

describe('ScramClient', () => {
  it('reproduces the RFC 7677 example exchange', async () => {
    const c = new ScramClient('pencil', { nonce: NONCE, username: 'user' });
    expect(c.clientFirstMessage).toBe('n,,n=user,r=rOprNGfwEbeRWgbNEkqO');
    expect(await c.handleServerFirst(SERVER_FIRST)).toBe(CLIENT_FINAL);
    expect(() => c.verifyServerFinal(SERVER_FINAL)).not.toThrow();
  });

  it('sends an empty user name and a random nonce by default, as libpq does', () => {
    const a = new ScramClient('pw');
    const b = new ScramClient('pw');
    expect(a.clientFirstMessage).toMatch(/^n,,n=,r=[A-Za-z0-9+/=]{24}$/);
    expect(a.clientFirstMessage).not.toBe(b.clientFirstMessage);
  });

  it('rejects a wrong server signature (a server that does not know the password)', async () => {
    const c = new ScramClient('pencil', { nonce: NONCE, username: 'user' });
    await c.handleServerFirst(SERVER_FIRST);
    const msg = await rejectsWithUpstreamError(() => c.verifyServerFinal('v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='));
    expect(msg).toContain('server signature');
    await rejectsWithUpstreamError(() => c.verifyServerFinal('e=invalid-proof'));
  });

  it('rejects a wrong password by signature mismatch', async () => {
    const c = new ScramClient('pencil2', { nonce: NONCE, username: 'user' });
    expect(await c.handleServerFirst(SERVER_FIRST)).not.toBe(CLIENT_FINAL);
    await rejectsWithUpstreamError(() => c.verifyServerFinal(SERVER_FINAL));
  });

  it('rejects malformed or hostile server-first-messages', async () => {
    const bad = [
      'r=otherNonce,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096', // does not extend our nonce
      `r=${NONCE},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096`, // adds nothing to it
      `r=${NONCE}x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0`,
      `r=${NONCE}x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=abc`,
      `r=${NONCE}x,s=!!!,i=4096`,
      `r=${NONCE}x,i=4096`,
      `m=ext,r=${NONCE}x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096`,
      'garbage',
    ];
    for (const m of bad) {
      const c = new ScramClient('pencil', { nonce: NONCE });
      await rejectsWithUpstreamError(c.handleServerFirst(m));
    }
    const c = new ScramClient('pencil', { nonce: NONCE });
    await rejectsWithUpstreamError(() => c.verifyServerFinal(SERVER_FINAL)); // before server-first
  });

  it('never puts the password in an error message', async () => {
    const c = new ScramClient('hunter2-secret', { nonce: NONCE });
    const msg = await rejectsWithUpstreamError(c.handleServerFirst('r=x,s=,i=1'));
    expect(msg).not.toContain('hunter2');
  });

  it('prepares passwords with SASLprep', () => {
    expect(saslPrep('pencil')).toBe('pencil');
    expect(saslPrep('I\u00adX')).toBe('IX'); // soft hyphen maps to nothing
    expect(saslPrep('a\u00a0b')).toBe('a b'); // non-ASCII space
    expect(saslPrep('\u2168')).toBe('IX'); // NFKC
    expect(saslPrep('a\u0007b')).toBe('a\u0007b'); // prohibited: used as is, like libpq
  });
});

describe('md5PasswordResponse', () => {
  it('computes md5(md5(password + user) + salt)', () => {
    // Computed independently with Python's hashlib.
    expect(md5PasswordResponse('alice', 'secret', Buffer.from([1, 2, 3, 4]))).toBe('md598a0412b9c31436fc53776e863350083');
  });
});
