import { describe, expect, it } from 'vitest';
import type { Identity } from '../policy/types.ts';
import { VerifiedTokens } from './verified-tokens.ts';

const alice: Identity = { subject: 'alice', issuer: 'https://idp', groups: ['analysts'], roles: [], name: null };
const keys = {};

describe('VerifiedTokens', () => {
  it('answers for a remembered token until its exp, and not from that instant on', () => {
    const v = new VerifiedTokens();
    v.set('t1', alice, 2_000, keys);
    expect(v.get('t1', keys, 1_999)).toEqual(alice);
    expect(v.get('t1', keys, 2_000)).toBeNull();
    expect(v.get('t1', keys, 1_000)).toBeNull(); // an expired entry is forgotten
    expect(v.get('t2', keys, 1_000)).toBeNull();
  });

  it('answers only under the key set that verified the token', () => {
    const v = new VerifiedTokens();
    v.set('t1', alice, 2_000, keys);
    expect(v.get('t1', {}, 1_000)).toBeNull();
    expect(v.get('t1', keys, 1_000)).toBeNull();
  });

  it('keeps at most its bound, forgetting the least recently used first', () => {
    const v = new VerifiedTokens(2);
    v.set('a', alice, 9_000, keys);
    v.set('b', alice, 9_000, keys);
    expect(v.get('a', keys, 0)).not.toBeNull(); // a is now the most recent
    v.set('c', alice, 9_000, keys);
    expect(v.size).toBe(2);
    expect(v.get('b', keys, 0)).toBeNull();
    expect(v.get('a', keys, 0)).not.toBeNull();
    expect(v.get('c', keys, 0)).not.toBeNull();
  });

  it('gives every caller the same identity, frozen throughout: no session can change what another sees', () => {
    const v = new VerifiedTokens();
    const mine: Identity = { ...alice, groups: [...alice.groups] };
    v.set('t1', mine, 2_000, keys);
    const first = v.get('t1', keys, 0)!;
    expect(() => first.groups.push('admins')).toThrow(TypeError);
    expect(() => {
      (first as { subject: string }).subject = 'mallory';
    }).toThrow(TypeError);
    const second = v.get('t1', keys, 0)!;
    expect(second).toBe(first); // one object per token: what is derived from it is made once
    expect(second).toEqual(alice);
    // The verifier's own object is copied, not frozen: changing it later changes nothing remembered.
    expect(Object.isFrozen(mine)).toBe(false);
    mine.groups.push('admins');
    expect(v.get('t1', keys, 0)!.groups).toEqual(['analysts']);
  });
});
