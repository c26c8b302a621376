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

/**
 * LRU by Map insertion order: a hit is moved to the end, eviction takes the first key. Stored
 * outcomes are deep-frozen because every caller shares them: a mutation would change the facts
 * later statements are judged on.
 */
export class ParseCache {
  readonly capacity: number;
  readonly maxTextLength: number;
  private readonly map = new Map<string, ParseOutcome>();
  private hits = 0;
  private misses = 0;
  private evictions = 0;

  constructor(options: ParseCacheOptions = {}) {
    this.capacity = options.capacity ?? 5_000;
    this.maxTextLength = options.maxTextLength ?? 16_384;
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
    this.map.delete(key);
    this.map.set(key, hit);
    return hit;
  }

  /** Freezes, stores and returns the outcome; texts over maxTextLength are frozen but not stored. */
  set(key: string, text: string, outcome: ParseOutcome): ParseOutcome {
    deepFreeze(outcome);
    if (text.length > this.maxTextLength) return outcome;
    this.map.set(key, outcome);
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
