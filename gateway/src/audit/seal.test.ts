import { generateKeyPairSync } from 'node:crypto';
import { compactDecrypt, decodeProtectedHeader, importPKCS8 } from 'jose';
import { describe, expect, it } from 'vitest';
import { createSealer, loadBreakGlassKey, sealedParameters } from './seal.ts';

function keyPair() {
  const pair = generateKeyPairSync('x25519');
  return { publicPem: pair.publicKey.export({ format: 'pem', type: 'spki' }).toString(), privatePem: pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), publicKey: pair.publicKey };
}

async function open(jwe: string, privatePem: string): Promise<unknown> {
  const { plaintext } = await compactDecrypt(jwe, await importPKCS8(privatePem, 'ECDH-ES'));
  return JSON.parse(new TextDecoder().decode(plaintext)) as unknown;
}

describe('break-glass sealing', () => {
  it('writes a compact JWE (ECDH-ES, X25519, A256GCM) that jose opens with the private key', async () => {
    const keys = keyPair();
    const seal = createSealer(loadBreakGlassKey(keys.publicPem));
    const payload = { statement: "SELECT * FROM clinical.patients WHERE ssn = '123-45-6789'", parameters: sealedParameters([Buffer.from('Ada'), null, Buffer.from([0, 255])]) };
    const jwe = seal(payload);
    expect(jwe).not.toContain('123-45-6789');
    expect(Buffer.from(jwe.split('.')[3]!, 'base64url').toString('latin1')).not.toContain('123-45-6789');
    expect(decodeProtectedHeader(jwe)).toMatchObject({ alg: 'ECDH-ES', enc: 'A256GCM', epk: { kty: 'OKP', crv: 'X25519' } });
    expect(await open(jwe, keys.privatePem)).toEqual({ ...payload, parameters: ['QWRh', null, 'AP8='] });
  });

  it('gives every record its own IV, and a new ephemeral key after rotateAfter records', async () => {
    const keys = keyPair();
    const seal = createSealer(keys.publicKey, 2);
    const [a, b, c] = [1, 2, 3].map((i) => seal({ statement: `SELECT ${i}` }));
    const epk = (jwe: string) => JSON.stringify(decodeProtectedHeader(jwe).epk);
    expect(epk(a!)).toBe(epk(b!));
    expect(epk(c!)).not.toBe(epk(a!));
    expect(new Set([a, b, c].map((j) => j!.split('.')[2])).size).toBe(3);
    for (const [i, jwe] of [a, b, c].entries()) expect(await open(jwe!, keys.privatePem)).toEqual({ statement: `SELECT ${i + 1}` });
  });

  it('a copy does not open with another key, nor once altered', async () => {
    const keys = keyPair();
    const other = keyPair();
    const jwe = createSealer(keys.publicKey)({ statement: 'SELECT 1' });
    await expect(open(jwe, other.privatePem)).rejects.toThrow();
    const parts = jwe.split('.');
    const ciphertext = Buffer.from(parts[3]!, 'base64url');
    ciphertext[0] = ciphertext[0]! ^ 1;
    parts[3] = ciphertext.toString('base64url');
    await expect(open(parts.join('.'), keys.privatePem)).rejects.toThrow();
  });

  it('reads the public key as PEM or JWK, and refuses keys of another kind', () => {
    const keys = keyPair();
    const jwk = JSON.stringify(keys.publicKey.export({ format: 'jwk' }));
    expect(loadBreakGlassKey(jwk).asymmetricKeyType).toBe('x25519');
    const ed = generateKeyPairSync('ed25519').publicKey.export({ format: 'pem', type: 'spki' }).toString();
    expect(() => loadBreakGlassKey(ed)).toThrow('must be an X25519 public key, not ed25519');
    expect(() => loadBreakGlassKey('not a key')).toThrow();
  });
});
