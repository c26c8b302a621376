// The decision-cache key of a session's last statement, kept so that the next one that agrees on every
// path the policy reads gets the very same key string back (enforce/decision-cache.ts keyFor). Making
// the key (a dozen JSON parts concatenated) and hashing the new string in the cache's Map lookup were
// the largest costs of a cached decision after allocation; a string already used as a key has its hash.
//
// A value is taken as unchanged only when it cannot have changed: a primitive equal to the last one, the
// same object when that object is frozen throughout (policy/frozen-json.ts: the identity part, a shape's
// derived lists), or an empty array both times. Anything else makes the key afresh.

import { isFrozenThroughout } from './frozen-json.ts';
import { inputKey, type InputReads } from './input-reads.ts';
import type { PolicyInput } from './types.ts';

/**
 * How a value was seen when the last key was made: a primitive (or undefined), equal again when ===;
 * an object frozen throughout, the same again when it is the same object; an empty array with no
 * toJSON, the same again for any such array; anything else, never taken as unchanged.
 */
type Seen = 'primitive' | 'frozen' | 'empty-array' | 'other';

export class InputKeyMemo {
  private reads: InputReads | null = null;
  private prefix = '';
  private values: unknown[] = [];
  private seen: Seen[] = [];
  private key = '';

  /** `${prefix}${inputKey(input, reads)}`, the same string as last time when nothing read changed. */
  keyOf(prefix: string, input: PolicyInput, reads: InputReads): string {
    if (reads.kind === 'all') return `${prefix}${inputKey(input, reads)}`;
    const paths = reads.paths;
    const top = input as unknown as Record<string, unknown>;
    let same = reads === this.reads && prefix === this.prefix;
    for (let i = 0; same && i < paths.length; i++) same = unchanged(valueAt(top, paths[i]!), this.values[i], this.seen[i]!);
    if (same) return this.key;
    const key = `${prefix}${inputKey(input, reads)}`;
    // Recorded after inputKey, which has made the JSON of every frozen value (so isFrozenThroughout knows it).
    this.values = paths.map((p) => valueAt(top, p));
    this.seen = this.values.map(seenAs);
    this.reads = reads;
    this.prefix = prefix;
    this.key = key;
    return key;
  }
}

function valueAt(top: Record<string, unknown>, path: readonly [string] | readonly [string, string]): unknown {
  const value = top[path[0]];
  if (path.length === 1) return value;
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[path[1]] : undefined;
}

function isEmptyArray(value: unknown): boolean {
  return Array.isArray(value) && value.length === 0 && !('toJSON' in value);
}

function seenAs(value: unknown): Seen {
  if (typeof value !== 'object' || value === null) return typeof value === 'function' ? 'other' : 'primitive';
  if (isEmptyArray(value)) return 'empty-array';
  return isFrozenThroughout(value) ? 'frozen' : 'other';
}

function unchanged(value: unknown, last: unknown, seen: Seen): boolean {
  switch (seen) {
    case 'primitive':
      return value === last;
    case 'frozen':
      return value === last;
    case 'empty-array':
      return isEmptyArray(value);
    case 'other':
      return false;
    default: {
      const never: never = seen;
      throw new Error(`unknown memo state ${String(never)}`);
    }
  }
}
