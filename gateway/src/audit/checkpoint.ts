// Signed checkpoints of the audit chain: an Ed25519 JWS (through jose) over the chain head, the
// record count and the previous checkpoint, so that a verifier holding only the public key can
// tell the records it covers were not rewritten; and the key pair those checkpoints use.

import { readFileSync } from 'node:fs';
import { CompactSign, calculateJwkThumbprint, compactVerify, exportJWK, exportPKCS8, exportSPKI, generateKeyPair, importJWK, importPKCS8, importSPKI } from 'jose';
import type { JWK } from 'jose';
import { GatehouseError } from '../errors.ts';
import type { ChainHead } from './chain.ts';
import { AUDIT_RECORD_VERSION, type AuditRecord } from './types.ts';

export const CHECKPOINT_ALG = 'EdDSA';

/** What a checkpoint signs. */
export interface CheckpointPayload {
  /** The last record covered (the chain head's number; also the count of records since the first). */
  seq: number;
  /** SHA-256 of that record's line. */
  head: string;
  /** The previous checkpoint: its own record's number and line hash (null for a log's first). */
  previous: ChainHead | null;
  time: string;
  /** Seconds between interval checkpoints, so a verifier can tell a missing one. */
  interval_s: number;
  /** Why it was written. */
  reason: 'interval' | 'rotation' | 'shutdown' | 'recovery';
}

/**
 * What the next checkpoint of a chain at `covers` signs, or null when there is nothing to sign (no
 * record yet, or none since the checkpoint `previous`, unless records stand unsigned before that
 * checkpoint's own record: `signedBehind`, and then the checkpoint record itself is covered).
 */
export function checkpointPayload(covers: ChainHead, previous: ChainHead | null, intervalMs: number, reason: CheckpointPayload['reason'], signedBehind = false): CheckpointPayload | null {
  if (covers.seq === 0 || (previous !== null && previous.seq === covers.seq && !signedBehind)) return null;
  return { seq: covers.seq, head: covers.head, previous, time: new Date().toISOString(), interval_s: Math.round(intervalMs / 1000), reason };
}

/** The "checkpoint" record carrying `jws`, the signature of `payload`. */
export function checkpointRecord(payload: CheckpointPayload, jws: string): AuditRecord {
  return { v: AUDIT_RECORD_VERSION, type: 'checkpoint', time: payload.time, covers: { seq: payload.seq, head: payload.head }, jws };
}

export interface CheckpointSigner {
  kid: string;
  publicJwk: JWK;
  sign(payload: CheckpointPayload): Promise<string>;
}

/** Loads the PKCS#8 PEM private key at `file` (written by `gatehouse audit keygen`). */
export async function loadCheckpointSigner(file: string): Promise<CheckpointSigner> {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new GatehouseError('CONFIG_INVALID', `cannot read the audit signing key ${file}: ${(cause as Error).message}`, { cause });
  }
  let key: CryptoKey;
  try {
    key = await importPKCS8(pem, CHECKPOINT_ALG, { extractable: true });
  } catch (cause) {
    throw new GatehouseError('CONFIG_INVALID', `the audit signing key ${file} is not an Ed25519 PKCS#8 PEM key: ${(cause as Error).message}`, {
      cause,
      hint: 'Create one with: gatehouse audit keygen --out DIR',
    });
  }
  const privateJwk = await exportJWK(key);
  const publicJwk: JWK = { kty: privateJwk.kty!, crv: privateJwk.crv!, x: privateJwk.x! };
  const kid = await calculateJwkThumbprint(publicJwk);
  return {
    kid,
    publicJwk: { ...publicJwk, kid, alg: CHECKPOINT_ALG, use: 'sig' },
    sign: (payload) =>
      new CompactSign(new TextEncoder().encode(JSON.stringify(payload))).setProtectedHeader({ alg: CHECKPOINT_ALG, kid }).sign(key),
  };
}

/** A verifier's view of a public key: PEM (SPKI) or a JWK, as `gatehouse audit keygen` writes them. */
export interface CheckpointKey {
  kid: string;
  key: CryptoKey;
}

export async function loadCheckpointKey(text: string): Promise<CheckpointKey> {
  const trimmed = text.trim();
  let key: CryptoKey;
  if (trimmed.startsWith('{')) {
    const jwk = JSON.parse(trimmed) as JWK;
    key = (await importJWK({ kty: jwk.kty, crv: jwk.crv, x: jwk.x }, CHECKPOINT_ALG)) as CryptoKey;
    return { kid: await calculateJwkThumbprint({ kty: jwk.kty!, crv: jwk.crv!, x: jwk.x! }), key };
  }
  key = await importSPKI(trimmed, CHECKPOINT_ALG, { extractable: true });
  const jwk = await exportJWK(key);
  return { kid: await calculateJwkThumbprint({ kty: jwk.kty!, crv: jwk.crv!, x: jwk.x! }), key };
}

export type CheckpointCheck =
  | { ok: true; payload: CheckpointPayload }
  | { ok: false; why: 'wrong-key'; kid: string | null }
  | { ok: false; why: 'bad-signature' | 'malformed'; message: string };

/** Checks a checkpoint's JWS against the trusted key. */
export async function checkCheckpoint(jws: string, trusted: CheckpointKey): Promise<CheckpointCheck> {
  let kid: string | null = null;
  try {
    const header = JSON.parse(Buffer.from(jws.split('.')[0] ?? '', 'base64url').toString('utf8')) as { kid?: unknown };
    kid = typeof header.kid === 'string' ? header.kid : null;
  } catch {
    return { ok: false, why: 'malformed', message: 'the signature is not a compact JWS' };
  }
  if (kid !== trusted.kid) return { ok: false, why: 'wrong-key', kid };
  try {
    const { payload } = await compactVerify(jws, trusted.key, { algorithms: [CHECKPOINT_ALG] });
    return { ok: true, payload: JSON.parse(new TextDecoder().decode(payload)) as CheckpointPayload };
  } catch (e) {
    return { ok: false, why: 'bad-signature', message: (e as Error).message };
  }
}

/** A new key pair as PEM texts (private PKCS#8, public SPKI) and the public JWK. */
export async function generateCheckpointKeys(): Promise<{ privatePem: string; publicPem: string; publicJwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair(CHECKPOINT_ALG, { crv: 'Ed25519', extractable: true });
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint({ kty: jwk.kty!, crv: jwk.crv!, x: jwk.x! });
  return {
    privatePem: await exportPKCS8(privateKey),
    publicPem: await exportSPKI(publicKey),
    publicJwk: { kty: jwk.kty!, crv: jwk.crv!, x: jwk.x!, kid, alg: CHECKPOINT_ALG, use: 'sig' },
  };
}
