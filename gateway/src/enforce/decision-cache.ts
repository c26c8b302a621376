// Verdicts shared by every session, keyed by (policy revision, the parts of the input the policy
// reads): two sessions of the same identity, or one statement with other literal values, get the
// verdict already reached. Only for a deterministic engine; each use still gets its own decision id,
// input and audit record (enforce/decision-point.ts).

import { inputKey, READS_ALL } from '../policy/input-reads.ts';
import type { InputKeyMemo } from '../policy/input-key-memo.ts';
import type { EngineVerdict, PolicyEngine, PolicyInput } from '../policy/types.ts';

export interface DecisionCacheOptions {
  /** Verdicts kept; the least recently used (approximately: see get()) goes beyond it. */
  maxEntries?: number;
  /** Bytes of keys and verdicts kept (UTF-16 estimate); the least recently used go beyond it. */
  maxBytes?: number;
}

export interface DecisionCacheStats {
  entries: number;
  bytes: number;
  hits: number;
  misses: number;
  /** The policy revision the entries were decided by (null: none yet). */
  revision: string | null;
}

interface Entry {
  verdict: EngineVerdict;
  bytes: number;
  /** The cache's clock when it was stored or last moved to the newest end. */
  at: number;
}

/** Each engine's keys start with its kind (one string each, not a new one per key). */
const KEY_PREFIX: Readonly<Record<PolicyEngine['kind'], string>> = Object.freeze({ rego: 'rego\u0000', cedar: 'cedar\u0000' });

/** Where a verdict is looked up and stored: null when the engine's verdicts may not be reused. */
export type DecisionCacheKey = string | null;

export class DecisionCache {
  readonly maxEntries: number;
  readonly maxBytes: number;
  private readonly map = new Map<string, Entry>();
  private revision: string | null = null;
  private bytes = 0;
  private hits = 0;
  private misses = 0;
  /** Counts stores and moves: an entry's age in them tells whether a hit must move it. */
  private clock = 0;
  /** Hits on an entry younger than this many stores and moves leave it where it is. */
  private readonly moveAge: number;

  constructor(options: DecisionCacheOptions = {}) {
    this.maxEntries = options.maxEntries ?? 20_000;
    this.maxBytes = options.maxBytes ?? 16 * 1024 * 1024;
    this.moveAge = Math.max(1, this.maxEntries >> 1);
  }

  /**
   * The key of an input under an engine; null when the engine is not deterministic. `memo`: the
   * session's last key (policy/input-key-memo.ts), returned as the same string when nothing read changed.
   */
  static keyFor(engine: PolicyEngine, input: PolicyInput, memo?: InputKeyMemo): DecisionCacheKey {
    if (!engine.deterministic) return null;
    const reads = engine.reads ?? READS_ALL;
    const prefix = KEY_PREFIX[engine.kind];
    return memo === undefined ? `${prefix}${inputKey(input, reads)}` : memo.keyOf(prefix, input, reads);
  }

  /**
   * The verdict for `key` under `revision`, or null. A revision other than the entries' (a policy
   * was activated) empties the cache: nothing decided by another policy is answered again.
   */
  get(revision: string, key: string): EngineVerdict | null {
    if (revision !== this.revision) {
      this.clear();
      this.revision = revision;
    }
    const entry = this.map.get(key);
    if (entry === undefined) {
      this.misses++;
      return null;
    }
    this.hits++;
    // Least recently used, approximately: an entry among the newer half of the stores and moves is
    // far from eviction by count, and moving it (a Map delete and set, about 1 µs: more than the
    // lookup) on every hit would cost the hot statements most. Eviction only ever costs a miss.
    if (this.clock - entry.at >= this.moveAge) {
      this.map.delete(key);
      this.map.set(key, entry);
      entry.at = ++this.clock;
    }
    return entry.verdict;
  }

  /** Stores a verdict reached under `revision`; dropped when another revision is active by now. */
  set(revision: string, key: string, verdict: EngineVerdict): void {
    if (revision !== this.revision) return;
    const bytes = 2 * (key.length + JSON.stringify(verdict).length) + 64;
    if (bytes > this.maxBytes) return;
    const old = this.map.get(key);
    if (old !== undefined) {
      this.map.delete(key);
      this.bytes -= old.bytes;
    }
    this.map.set(key, { verdict, bytes, at: ++this.clock });
    this.bytes += bytes;
    while (this.map.size > this.maxEntries || this.bytes > this.maxBytes) {
      const oldest = this.map.entries().next();
      if (oldest.done === true) break;
      this.map.delete(oldest.value[0]);
      this.bytes -= oldest.value[1].bytes;
    }
  }

  clear(): void {
    this.map.clear();
    this.bytes = 0;
  }

  stats(): DecisionCacheStats {
    return { entries: this.map.size, bytes: this.bytes, hits: this.hits, misses: this.misses, revision: this.revision };
  }
}
