// Verifies a bearer JWT (sent as the PostgreSQL password) and returns the Identity it proves.

import { jwtVerify, decodeProtectedHeader } from 'jose';
import type { JWTVerifyGetKey, JWTVerifyOptions, JWTVerifyResult, CryptoKey, KeyObject } from 'jose';
import { resolve } from 'node:path';
import type { GatehouseConfig } from '../config/types.ts';
import { GatehouseError, isGatehouseError } from '../errors.ts';
import type { Identity } from '../policy/types.ts';
import { isAsymmetricAlgorithm } from './algorithms.ts';
import { identityFromClaims } from './claims.ts';
import { createKeySource } from './key-source.ts';
import { VerifiedTokens } from './verified-tokens.ts';

export interface TokenVerifier {
  /** Resolves to the identity, or rejects with GatehouseError('AUTH_FAILED') saying which check failed. Never rejects with anything else. */
  verify(token: string): Promise<Identity>;
  /** Loads or fetches the key set now, so a bad JWKS is reported at startup (CONFIG_INVALID). */
  warm(): Promise<void>;
}

/** Tokens longer than this are refused before any parsing (a PostgreSQL password message is small). */
export const MAX_TOKEN_LENGTH = 16 * 1024;

// Three base64url segments; the signature may be empty only for alg "none", which is then refused by name.
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export interface TokenVerifierOptions {
  /** The clock the reuse of verified tokens is judged by (ms); tests move it. */
  now?: () => number;
  /** Verified tokens remembered at most (auth/verified-tokens.ts); 0 verifies every token in full. */
  remember?: number;
}

export function createTokenVerifier(cfg: GatehouseConfig['auth'], baseDir: string, opts: TokenVerifierOptions = {}): TokenVerifier {
  if (cfg.algorithms.length === 0) {
    throw new GatehouseError('CONFIG_INVALID', 'auth.algorithms must list at least one algorithm');
  }
  for (const alg of cfg.algorithms) {
    if (!isAsymmetricAlgorithm(alg)) {
      throw new GatehouseError('CONFIG_INVALID', `auth.algorithms: '${alg}' is not allowed (only asymmetric algorithms)`);
    }
  }
  const source = createKeySource(
    cfg.jwks.kind === 'file' ? { kind: 'file', path: resolve(baseDir, cfg.jwks.path) } : cfg.jwks,
  );
  const allowed = new Set(cfg.algorithms);
  const options: JWTVerifyOptions = {
    issuer: cfg.issuer,
    audience: cfg.audience,
    algorithms: [...cfg.algorithms],
    clockTolerance: cfg.clockToleranceSeconds,
    requiredClaims: ['exp', 'sub'],
  };
  const names = { groupsClaim: cfg.groupsClaim, rolesClaim: cfg.rolesClaim };
  const now = opts.now ?? Date.now;
  const verified = opts.remember === 0 ? null : new VerifiedTokens(opts.remember);

  return {
    async verify(token: string): Promise<Identity> {
      try {
        // A token that passed every check before, under the key set still in force, before its exp.
        const inForce = verified !== null && typeof token === 'string' && token.length <= MAX_TOKEN_LENGTH ? source.inForce() : null;
        const known = inForce !== null ? verified!.get(token, inForce, now()) : null;
        if (known !== null) return known;
        precheck(token, allowed);
        const getKey = await source.getKey();
        const result = await verifyWithKeySet(token, getKey, options);
        issuedInThePast(result.payload.iat, cfg.clockToleranceSeconds);
        const identity = identityFromClaims(result.payload, names);
        if (verified !== null) {
          const verifiedAt = now();
          // exp is a required claim; reused until then at most, never within the clock tolerance after it.
          const until = Math.min(result.payload.exp! * 1000, source.reuseMaxMs === null ? Infinity : verifiedAt + source.reuseMaxMs);
          if (until > verifiedAt) verified.set(token, identity, until, getKey);
        }
        return identity;
      } catch (e) {
        throw toAuthError(e);
      }
    },
    warm: () => source.warm(),
  };
}

/**
 * jose checks `iat` only against a maximum token age, which Gatehouse does not set: a token issued
 * in the future (beyond the clock tolerance) was minted by a clock, or a party, that is not to be
 * trusted, so it is refused like one not yet valid.
 */
function issuedInThePast(iat: number | undefined, toleranceSeconds: number): void {
  if (iat === undefined) return;
  if (iat > Math.floor(Date.now() / 1000) + toleranceSeconds) {
    throw new GatehouseError('AUTH_FAILED', 'token issued in the future (iat)');
  }
}

/** Cheap checks before any key lookup, so garbage never reaches a remote JWKS fetch. */
function precheck(token: unknown, allowed: ReadonlySet<string>): void {
  if (typeof token !== 'string' || token.length === 0) {
    throw new GatehouseError('AUTH_FAILED', 'not a JWT: empty token');
  }
  if (token.length > MAX_TOKEN_LENGTH) {
    throw new GatehouseError('AUTH_FAILED', `not a JWT: longer than ${MAX_TOKEN_LENGTH} characters`);
  }
  if (!COMPACT_JWS.test(token)) {
    throw new GatehouseError('AUTH_FAILED', 'not a JWT: expected three base64url segments');
  }
  let alg: unknown;
  try {
    alg = decodeProtectedHeader(token).alg;
  } catch {
    throw new GatehouseError('AUTH_FAILED', 'not a JWT: header is not valid base64url JSON');
  }
  if (typeof alg !== 'string' || !allowed.has(alg)) {
    throw new GatehouseError('AUTH_FAILED', `algorithm not allowed: ${typeof alg === 'string' ? JSON.stringify(alg.slice(0, 20)) : 'missing'}`);
  }
}

async function verifyWithKeySet(
  token: string,
  getKey: JWTVerifyGetKey,
  options: JWTVerifyOptions,
): Promise<JWTVerifyResult> {
  try {
    return await jwtVerify(token, getKey, options);
  } catch (e) {
    // Several keys share the token's kid/alg (e.g. during a rotation without kids): jose hands
    // back an iterator over the candidates and leaves trying them to the caller.
    if (joseCode(e) !== 'ERR_JWKS_MULTIPLE_MATCHING_KEYS') throw e;
    const candidates = e as AsyncIterable<CryptoKey | KeyObject>;
    let last: unknown = e;
    for await (const key of candidates) {
      try {
        return await jwtVerify(token, key, options);
      } catch (inner) {
        last = inner;
        if (joseCode(inner) !== 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') throw inner;
      }
    }
    throw last;
  }
}

function joseCode(e: unknown): string | undefined {
  if (e === null || typeof e !== 'object') return undefined;
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/** Maps whatever went wrong to AUTH_FAILED with a message naming the failed check. */
function toAuthError(e: unknown): GatehouseError {
  if (isGatehouseError(e)) {
    return e.code === 'AUTH_FAILED' ? e : new GatehouseError('AUTH_FAILED', e.message, { cause: e });
  }
  const fail = (message: string): GatehouseError => new GatehouseError('AUTH_FAILED', message, { cause: e });
  switch (joseCode(e)) {
    case 'ERR_JWT_EXPIRED':
      return fail('token expired');
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return fail(claimMessage(e as { claim?: unknown; reason?: unknown }));
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return fail('signature invalid');
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return fail('algorithm not allowed');
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
      return fail(`not a JWT: ${(e as Error).message}`);
    case 'ERR_JWKS_NO_MATCHING_KEY':
      return fail('no matching key in the key set (unknown kid or key type)');
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return fail('signature invalid (no key in the key set verified it)');
    case 'ERR_JWKS_TIMEOUT':
      return fail('key set unavailable: fetch timed out');
    case 'ERR_JWKS_INVALID':
      return fail('key set unavailable: not a valid JWKS');
    case 'ERR_JWK_INVALID':
      return fail('key set unavailable: invalid key');
    case 'ERR_JOSE_NOT_SUPPORTED':
      return fail(`token uses an unsupported feature: ${(e as Error).message}`);
    default:
      return fail(`token rejected: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function claimMessage(e: { claim?: unknown; reason?: unknown }): string {
  const claim = typeof e.claim === 'string' ? e.claim : 'unknown';
  if (e.reason === 'missing') {
    if (claim === 'exp') return 'token has no expiry (exp)';
    if (claim === 'sub') return 'token has no subject (sub)';
    return `token has no '${claim}' claim`;
  }
  switch (claim) {
    case 'aud':
      return 'audience mismatch';
    case 'iss':
      return 'issuer mismatch';
    case 'nbf':
      return 'token not yet valid (nbf)';
    case 'iat':
      return 'token issued in the future (iat)';
    default:
      return `claim '${claim}' invalid`;
  }
}
