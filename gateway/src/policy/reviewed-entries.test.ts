import { describe, expect, it } from 'vitest';
import { declaredWrites, parseReviewedEntry, reviewedName, reviewOf } from './reviewed-entries.ts';

const D1 = `sha256:${'a'.repeat(64)}`;
const D2 = `sha256:${'b'.repeat(64)}`;

describe('reviewed entries', () => {
  it('parses a name, a name with a definition digest, and refuses anything else', () => {
    expect(parseReviewedEntry('public.stamp')).toEqual({ kind: 'name', name: 'public.stamp', writes: [] });
    expect(parseReviewedEntry(`public.stamp@${D1}`)).toEqual({ kind: 'pinned', name: 'public.stamp', digest: D1, writes: [] });
    for (const bad of ['stamp', 'public.', '.stamp', 'public.stamp@', 'public.stamp@sha256:abc', `public.stamp@md5:${'a'.repeat(64)}`, 'public.st amp', `public.stamp@${D1.toUpperCase()}`]) {
      expect(parseReviewedEntry(bad).kind, bad).toBe('malformed');
    }
    expect(reviewedName(`public.stamp@${D1}`)).toBe('public.stamp');
    expect(reviewedName('stamp')).toBeNull();
  });

  it('reads the tables a review says the function writes; a malformed writes part makes the entry vouch for nothing (R20b-3)', () => {
    expect(parseReviewedEntry(`public.keep@${D1} writes public.history audit.log`)).toEqual({ kind: 'pinned', name: 'public.keep', digest: D1, writes: ['public.history', 'audit.log'] });
    expect(parseReviewedEntry('public.keep writes public.history')).toEqual({ kind: 'name', name: 'public.keep', writes: ['public.history'] });
    for (const bad of ['public.keep writes ', 'public.keep writes history', 'public.keep writes public.a,public.b', 'public.keep writes public.a  public.b', `public.keep@${D1} writes public.`]) {
      expect(parseReviewedEntry(bad).kind, bad).toBe('malformed');
    }
    expect(declaredWrites('public.keep', ['public.keep writes public.a', `public.keep@${D1} writes public.b public.a`, 'public.other writes public.c'])).toEqual(['public.a', 'public.b']);
    expect(reviewOf('public.keep', [`public.keep@${D1} writes public.a`], [D1])).toBe('pinned');
  });

  it('vouches by name for any definition, by digest only for that definition in every trigger', () => {
    expect(reviewOf('public.stamp', ['public.stamp'], [D2])).toBe('name');
    expect(reviewOf('public.stamp', [`public.stamp@${D1}`], [D1, D1])).toBe('pinned');
    expect(reviewOf('public.stamp', [`public.stamp@${D1}`, `public.stamp@${D2}`], [D1, D2])).toBe('pinned');
    expect(reviewOf('public.stamp', [`public.stamp@${D1}`], [D1, D2])).toBe('changed');
    expect(reviewOf('public.stamp', [`public.stamp@${D1}`], [undefined])).toBe('changed');
    // A WHEN condition's function runs in no trigger of its own: a pin cannot be checked, so it does not vouch.
    expect(reviewOf('public.stamp', [`public.stamp@${D1}`], [])).toBe('changed');
    expect(reviewOf('public.stamp', ['public.other', 'stamp'], [D1])).toBe('unlisted');
  });
});
