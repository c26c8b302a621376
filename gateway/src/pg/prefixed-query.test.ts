import { describe, expect, it } from 'vitest';
import type { LockPrefix } from '../enforce/lock-prefix.ts';
import { encodeQuery } from '../wire/frontend.ts';
import { prefixedQuery } from './prefixed-query.ts';

const prefix = (text: string): LockPrefix => ({ text, statements: 1, chars: [...text].length, relations: ['public.t'] });

describe('prefixedQuery', () => {
  it('gives the bytes of the prefix and the text encoded together, for ASCII and multi-byte text and names', () => {
    for (const [p, sql] of [
      ['LOCK TABLE public.t IN ACCESS SHARE MODE; ', 'SELECT abalance FROM pgbench_accounts WHERE aid = 1;'],
      ['LOCK TABLE public."tablé ☃" IN ROW EXCLUSIVE MODE; ', "INSERT INTO \"tablé ☃\" VALUES ('𝄞 é')"],
      ['LOCK TABLE public.t IN ACCESS SHARE MODE; ', ''],
    ] as const) {
      const lock = prefix(p);
      expect(prefixedQuery(lock, encodeQuery(sql)).equals(encodeQuery(p + sql))).toBe(true);
      expect(prefixedQuery(lock, encodeQuery(sql)).equals(encodeQuery(p + sql))).toBe(true); // the kept prefix bytes
    }
  });

  it('forwards the client bytes it was given, not a re-encoding of them', () => {
    const raw = encodeQuery('SELECT 1');
    const out = prefixedQuery(prefix('LOCK TABLE public.t IN ACCESS SHARE MODE; '), raw);
    expect(out.subarray(out.length - raw.length + 5).equals(raw.subarray(5))).toBe(true);
    expect(out.readInt32BE(1)).toBe(out.length - 1);
  });

  it('refuses a prefix holding a NUL, as the query encoder does', () => {
    expect(() => prefixedQuery(prefix('LOCK TABLE "a\u0000b"; '), encodeQuery('SELECT 1'))).toThrow(/NUL/);
    expect(() => encodeQuery('LOCK TABLE "a\u0000b"; SELECT 1')).toThrow();
  });
});
