// Tokens already verified, so that a client reconnecting with the same JWT (one connection per
// transaction, a pool's reconnects) is not verified from scratch each time: bounded, keyed by the
// token's SHA-256, never kept past the token's exp nor past the key set that verified it. Every
// session of a token shares one deeply frozen identity: no session can change what another sees, and
// what is derived from it per object (the policy input's identity part, its JSON in decision-cache
// keys and audit records: policy/input-parts.ts, policy/frozen-json.ts) is made once per token, not
// once per login (a new connection per transaction: docs/benchmarks.md).

import { hash } from 'node:crypto';
import type { Identity } from '../policy/types.ts';

/** Verified tokens remembered at most (least recently used ones are forgotten first). */
export const VERIFIED_TOKENS_MAX = 10_000;

interface Entry {
  identity: Identity;
  /** The token's exp, in ms: the entry is not used from that instant on. */
  expiresAtMs: number;
  /** The key set that verified it: the entry is used only while that same key set is in force. */
  keySet: object;
}

export class VerifiedTokens {
  /** Insertion order is recency order: a hit moves its entry to the end. */
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly max: number = VERIFIED_TOKENS_MAX) {}

  /**
   * The identity a token proved when it was verified, if it was, its exp is still ahead of `nowMs`
   * and `keySet` is the key set that verified it (frozen throughout, the same object for every
   * caller). Else null: verify it in full.
   */
  get(token: string, keySet: object, nowMs: number): Identity | null {
    const key = keyOf(token);
    const e = this.entries.get(key);
    if (e === undefined) return null;
    this.entries.delete(key);
    if (nowMs >= e.expiresAtMs || e.keySet !== keySet) return null;
    this.entries.set(key, e);
    return e.identity;
  }

  /** Remembers a token that passed every check, until `expiresAtMs` (its exp) at the latest. */
  set(token: string, identity: Identity, expiresAtMs: number, keySet: object): void {
    const key = keyOf(token);
    this.entries.delete(key);
    this.entries.set(key, { identity: frozenCopyOf(identity), expiresAtMs, keySet });
    while (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value!);
  }

  get size(): number {
    return this.entries.size;
  }
}

/** The bearer token itself is never kept, only its hash. */
function keyOf(token: string): string {
  return hash('sha256', token, 'base64'); // one-shot: no Hash object per login
}

/**
 * A copy frozen throughout (the caller keeps its own object): a session that tried to change the
 * shared identity would throw (modules run in strict mode) instead of changing another session's.
 */
function frozenCopyOf(identity: Identity): Identity {
  return Object.freeze({ ...identity, groups: Object.freeze([...identity.groups]) as string[], roles: Object.freeze([...identity.roles]) as string[] });
}
