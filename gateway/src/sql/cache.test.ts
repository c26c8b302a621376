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
