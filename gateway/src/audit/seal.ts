// Break-glass copies of what the log leaves out: the statement as the client sent it (with its
// literals) and its bound parameters, encrypted to a public key whose private half is kept offline.
// Each sealed copy is a compact JWE (RFC 7516): alg ECDH-ES (direct key agreement, X25519),
// enc A256GCM, so any JOSE library (`jose`, used by `gatehouse audit unseal`) opens it. Written
// here synchronously with node:crypto, because audit records are written synchronously.

import { createCipheriv, createHash, createPublicKey, diffieHellman, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** What a sealed copy holds. Parameters: each bound value's bytes, base64 (null: SQL NULL). */
export interface SealedStatement {
  /**
   * The decision id of the record the copy was sealed into: `audit unseal` refuses a copy found in
   * another record (moved there by someone who can edit the log), which the JWE alone cannot tell.
   */
  decision_id?: string;
  statement: string;
  forwarded?: string;
  parameters?: Array<string | null>;
}

export type Sealer = (payload: SealedStatement) => string;

/** Reads an X25519 public key: SPKI PEM or a JWK (OKP, crv X25519). */
export function loadBreakGlassKey(text: string): KeyObject {
  const trimmed = text.trim();
  // createPublicKey would take a private key too (and derive its public half): refuse it, so the
  // secret that opens every copy is not left on the gateway by naming the wrong file.
  const jwk = trimmed.startsWith('{') ? (JSON.parse(trimmed) as import('node:crypto').JsonWebKey) : null;
  if ((jwk !== null && jwk.d !== undefined) || /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(trimmed)) {
    throw new Error('this is a private key: the gateway needs only the public one (breakglass.pub.pem); keep the private key off the gateway host');
  }
  const key = jwk !== null ? createPublicKey({ key: jwk, format: 'jwk' }) : createPublicKey(trimmed);
  if (key.asymmetricKeyType !== 'x25519') throw new Error(`the break-glass key must be an X25519 public key, not ${key.asymmetricKeyType ?? 'unknown'}`);
  return key;
}

export function loadBreakGlassKeyFile(file: string): KeyObject {
  return loadBreakGlassKey(readFileSync(file, 'utf8'));
}

const b64u = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

/** NIST SP 800-56A Concat KDF with SHA-256 for a 256-bit key, as JWA (RFC 7518 §4.6.2) uses it for ECDH-ES. */
function concatKdf(shared: Buffer, enc: string): Buffer {
  const u32 = (n: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  const algorithmId = Buffer.concat([u32(Buffer.byteLength(enc)), Buffer.from(enc)]);
  return createHash('sha256').update(Buffer.concat([u32(1), shared, algorithmId, u32(0), u32(0), u32(256)])).digest();
}

interface Agreement {
  protectedHeader: string;
  key: Buffer;
  uses: number;
}

/**
 * A sealer for `recipient`. One ephemeral key agreement serves up to `rotateAfter` records (each
 * with its own random 96-bit IV), so sealing costs one AES-GCM pass per record, not an X25519
 * operation; a new ephemeral key is made after that, and each process starts with its own.
 */
export function createSealer(recipient: KeyObject, rotateAfter = 4096): Sealer {
  const kid = createHash('sha256').update(recipient.export({ format: 'der', type: 'spki' })).digest('base64url').slice(0, 16);
  let agreement: Agreement | null = null;
  const agree = (): Agreement => {
    const ephemeral = generateKeyPairSync('x25519');
    const shared = diffieHellman({ privateKey: ephemeral.privateKey, publicKey: recipient });
    const epk = ephemeral.publicKey.export({ format: 'jwk' });
    const header = { alg: 'ECDH-ES', enc: 'A256GCM', kid, cty: 'application/json', epk: { kty: epk.kty, crv: epk.crv, x: epk.x } };
    return { protectedHeader: b64u(JSON.stringify(header)), key: concatKdf(shared, 'A256GCM'), uses: 0 };
  };
  return (payload) => {
    if (agreement === null || agreement.uses >= rotateAfter) agreement = agree();
    agreement.uses++;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', agreement.key, iv);
    cipher.setAAD(Buffer.from(agreement.protectedHeader, 'ascii'));
    const ciphertext = Buffer.concat([cipher.update(JSON.stringify(payload), 'utf8'), cipher.final()]);
    return `${agreement.protectedHeader}..${b64u(iv)}.${b64u(ciphertext)}.${b64u(cipher.getAuthTag())}`;
  };
}

/** Bound parameter values as a sealed copy holds them: bytes as base64 (text or binary format alike). */
export function sealedParameters(values: readonly (Buffer | null)[]): Array<string | null> {
  return values.map((v) => (v === null ? null : v.toString('base64')));
}
