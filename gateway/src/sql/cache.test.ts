import { describe, expect, it } from 'vitest';
import type { ParseOutcome } from './facts.ts';
import { ParseCache } from './cache.ts';

const outcome = (): ParseOutcome => ({ ok: false, error: 'x', position: null });

describe('ParseCache', () => {
  it('evicts the least recently used entry beyond capacity', () => {
    const cache = new ParseCache({ capacity: 2 });
    cache.set('a', 'a', outcome());
    cache.set('b', 'b', outcome());
    cache.get('a'); // a is now the most recent
    cache.set('c', 'c', outcome());
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBeDefined();
    expect(cache.get('c')).toBeDefined();
    expect(cache.stats()).toMatchObject({ size: 2, evictions: 1, hits: 3, misses: 1 });
  });

  it('moves a hit to the newest end only when it is older than half the capacity (approximate LRU)', () => {
    const cache = new ParseCache({ capacity: 4 });
    for (const k of ['a', 'b', 'c', 'd']) cache.set(k, k, outcome());
    cache.get('c'); // one store younger than the newest: left where it is
    cache.get('b'); // two stores old: moved to the newest end
    cache.set('e', 'e', outcome()); // evicts a
    cache.set('f', 'f', outcome()); // evicts c, which the hit did not move, not d
    expect(cache.get('a')).toBeUndefined();
    expect(cache.get('c')).toBeUndefined();
    for (const k of ['b', 'd', 'e', 'f']) expect(cache.get(k), k).toBeDefined();
    expect(cache.stats()).toMatchObject({ size: 4, evictions: 2 });
  });

  it('does not store very long texts', () => {
    const cache = new ParseCache({ maxTextLength: 10 });
    const long = 'x'.repeat(11);
    cache.set(long, long, outcome());
    expect(cache.stats().size).toBe(0);
  });

  it('keys differ by search_path and never collide with a plain text', () => {
    expect(ParseCache.key('SELECT 1', ['public'])).toBe('SELECT 1');
    expect(ParseCache.key('SELECT 1', ['a', 'b'])).not.toBe(ParseCache.key('SELECT 1', ['a,b']));
    expect(ParseCache.key('SELECT 1', ['a'])).not.toBe(ParseCache.key('SELECT 1', ['public']));
  });
});
