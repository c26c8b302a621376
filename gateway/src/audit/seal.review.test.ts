// Adversarial review of break-glass sealing: the gateway must never hold the private half.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadBreakGlassKey } from './seal.ts';

describe('loadBreakGlassKey (review)', () => {
  const pair = generateKeyPairSync('x25519');

  it('refuses the private key (PKCS#8 PEM) named by mistake: it would put the break-glass secret on the gateway', () => {
    const pem = pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    expect(() => loadBreakGlassKey(pem)).toThrow(/private key/);
  });

  it('refuses a private JWK (with "d")', () => {
    expect(() => loadBreakGlassKey(JSON.stringify(pair.privateKey.export({ format: 'jwk' })))).toThrow(/private key/);
  });

  it('still reads the public key as PEM or JWK', () => {
    expect(loadBreakGlassKey(pair.publicKey.export({ format: 'pem', type: 'spki' }).toString()).asymmetricKeyType).toBe('x25519');
    expect(loadBreakGlassKey(JSON.stringify(pair.publicKey.export({ format: 'jwk' }))).asymmetricKeyType).toBe('x25519');
  });
});
