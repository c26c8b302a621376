// Where verification keys come from: a JWKS file (re-read when it changes) or a JWKS URL (cached by jose).

import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createLocalJWKSet, createRemoteJWKSet } from 'jose';
import type { JWTVerifyGetKey } from 'jose';
import type { JwksSource } from '../config/types.ts';
import { GatehouseError } from '../errors.ts';

export interface KeySource {
  /** The key lookup for one verification; for a file, reloads the set first if the file changed. */
  getKey(): Promise<JWTVerifyGetKey>;
  /**
   * The key lookup getKey() would resolve to now, when that needs no loading (the same object as
   * long as the keys are the same), else null. Synchronous and cheap: it tells whether a token
   * verified earlier was verified with the key set still in force (auth/verified-tokens.ts).
   */
  inForce(): JWTVerifyGetKey | null;
  /** How long a verification may be reused at most (ms), beyond the key set's own changes: the time a fetched key set is trusted (url); null for a file. */
  readonly reuseMaxMs: number | null;
  /** Loads (or fetches) the key set now; throws CONFIG_INVALID when it cannot be used. */
  warm(): Promise<void>;
}

export function createKeySource(source: JwksSource): KeySource {
  switch (source.kind) {
    case 'file':
      return fileKeySource(source.path);
    case 'url':
      return urlKeySource(source.url, source.cacheMaxAgeSeconds, source.cooldownSeconds);
    default: {
      const never: never = source;
      throw new GatehouseError('CONFIG_INVALID', `unknown JWKS source ${JSON.stringify(never)}`);
    }
  }
}

/** What a stat tells of the JWKS file, compared as numbers (no string made per login). */
interface FileSignature {
  mtimeMs: number;
  size: number;
  ino: number;
}

function sameSignature(a: FileSignature, b: FileSignature): boolean {
  return a.mtimeMs === b.mtimeMs && a.size === b.size && a.ino === b.ino;
}

interface LoadedFile {
  /** mtime, size and inode together: a rewrite in place and a rename over both change it. */
  signature: FileSignature;
  getKey: JWTVerifyGetKey;
}

function fileKeySource(path: string): KeySource {
  let loaded: LoadedFile | null = null;
  let inflight: { signature: FileSignature; promise: Promise<LoadedFile> } | null = null;

  async function load(signature: FileSignature): Promise<LoadedFile> {
    const text = await readFile(path, 'utf8');
    const parsed: unknown = JSON.parse(text);
    // createLocalJWKSet validates the shape ({ keys: [...] }) and throws JWKSInvalid otherwise.
    const getKey = createLocalJWKSet(parsed as Parameters<typeof createLocalJWKSet>[0]);
    return { signature, getKey };
  }

  /** A stat of a local file (about a microsecond): cheaper synchronous than through the thread pool at every login. */
  function signatureNow(): FileSignature {
    const st = statSync(path);
    return { mtimeMs: st.mtimeMs, size: st.size, ino: st.ino };
  }

  async function current(): Promise<JWTVerifyGetKey> {
    const signature = signatureNow();
    if (loaded !== null && sameSignature(loaded.signature, signature)) return loaded.getKey;
    if (inflight === null || !sameSignature(inflight.signature, signature)) {
      const promise = load(signature);
      inflight = { signature, promise };
      promise.then(
        (result) => {
          loaded = result;
        },
        () => {
          // A broken file is not cached: the next verification tries again. Until it is fixed,
          // every verification fails (fail closed) rather than trusting the previous keys.
          loaded = null;
        },
      ).finally(() => {
        if (inflight?.promise === promise) inflight = null;
      });
    }
    return (await inflight.promise).getKey;
  }

  return {
    async getKey() {
      try {
        return await current();
      } catch (cause) {
        throw new GatehouseError('AUTH_FAILED', 'key set unavailable', { cause });
      }
    },
    inForce() {
      if (loaded === null) return null;
      try {
        return sameSignature(loaded.signature, signatureNow()) ? loaded.getKey : null;
      } catch {
        return null; // gone or unreadable: getKey() says why
      }
    },
    reuseMaxMs: null,
    async warm() {
      try {
        await current();
      } catch (cause) {
        throw new GatehouseError('CONFIG_INVALID', `cannot load JWKS file ${path}: ${describe(cause)}`, { cause });
      }
    },
  };
}

function urlKeySource(url: string, cacheMaxAgeSeconds: number, cooldownSeconds: number): KeySource {
  const remote = createRemoteJWKSet(new URL(url), {
    cacheMaxAge: cacheMaxAgeSeconds * 1000,
    cooldownDuration: cooldownSeconds * 1000,
    timeoutDuration: 5000,
  });
  // Fetch failures (HTTP errors, timeouts, refused connections) are told apart from the
  // lookup outcomes jose reports for the token itself (unknown kid, several candidates).
  const getKey: JWTVerifyGetKey = async (header, token) => {
    try {
      return await remote(header, token);
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (code === 'ERR_JWKS_NO_MATCHING_KEY' || code === 'ERR_JWKS_MULTIPLE_MATCHING_KEYS') throw e;
      throw new GatehouseError('AUTH_FAILED', `key set unavailable: ${describe(e)}`, { cause: e });
    }
  };
  return {
    async getKey() {
      return getKey;
    },
    // jose fetches the set again after cacheMaxAge; a verification is reused no longer than that.
    inForce: () => getKey,
    reuseMaxMs: cacheMaxAgeSeconds * 1000,
    async warm() {
      try {
        await remote.reload();
      } catch (cause) {
        throw new GatehouseError('CONFIG_INVALID', `cannot fetch JWKS from ${url}: ${describe(cause)}`, { cause });
      }
    },
  };
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
