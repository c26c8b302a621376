// A bounded LRU cache of parse outcomes keyed by query text and search_path.
import type { ParseOutcome } from './facts.ts';

export interface CacheStats {
  size: number;
  capacity: number;
  hits: number;
  misses: number;
  evictions: number;
}

export interface ParseCacheOptions {
  /** Entries kept; the least recently used is evicted beyond it. */
  capacity?: number;
  /** Query strings longer than this (characters) are not cached: bulk INSERTs would fill memory. */
  maxTextLength?: number;
}

/** A stored outcome and the cache's clock when it was stored or last moved to the newest end. */
interface Entry {
  outcome: ParseOutcome;
  at: number;
}

/**
 * LRU by Map insertion order, approximately (as enforce/decision-cache.ts): a hit on an entry older
 * than half the capacity in stores and moves is moved to the end; eviction takes the first key. A hit
 * on a younger one stays where it is: it is far from eviction, and the move (a Map delete and set of
 * the text key) cost more than the lookup on every extended Parse and Execute. Stored outcomes are
 * deep-frozen because every caller shares them: a mutation would change the facts later statements
 * are judged on.
 */
export class ParseCache {
  readonly capacity: number;
  readonly maxTextLength: number;
  private readonly map = new Map<string, Entry>();
  /** Counts stores and moves: an entry's age in them tells whether a hit must move it. */
  private clock = 0;
  private readonly moveAge: number;
  private hits = 0;
  private misses = 0;
  private evictions = 0;

  constructor(options: ParseCacheOptions = {}) {
    this.capacity = options.capacity ?? 5_000;
    this.maxTextLength = options.maxTextLength ?? 16_384;
    this.moveAge = Math.max(1, this.capacity >> 1);
  }

  static key(text: string, searchPath: readonly string[]): string {
    // NUL cannot occur in PostgreSQL identifiers or query text, so the key is unambiguous.
    return searchPath.length === 1 && searchPath[0] === 'public' ? text : `${searchPath.join('\u0000')}\u0000\u0000${text}`;
  }

  get(key: string): ParseOutcome | undefined {
    const hit = this.map.get(key);
    if (hit === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    if (this.clock - hit.at >= this.moveAge) {
      this.map.delete(key);
      this.map.set(key, hit);
      hit.at = ++this.clock;
    }
    return hit.outcome;
  }

  /** Freezes, stores and returns the outcome; texts over maxTextLength are frozen but not stored. */
  set(key: string, text: string, outcome: ParseOutcome): ParseOutcome {
    deepFreeze(outcome);
    if (text.length > this.maxTextLength) return outcome;
    this.map.delete(key);
    this.map.set(key, { outcome, at: ++this.clock });
    if (this.map.size > this.capacity) {
      const oldest = this.map.keys().next();
      if (oldest.done !== true) {
        this.map.delete(oldest.value);
        this.evictions++;
      }
    }
    return outcome;
  }

  clear(): void {
    this.map.clear();
    this.hits = this.misses = this.evictions = 0;
  }

  stats(): CacheStats {
    return { size: this.map.size, capacity: this.capacity, hits: this.hits, misses: this.misses, evictions: this.evictions };
  }
}

function deepFreeze(value: unknown): void {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const v of Object.values(value)) deepFreeze(v);
}
