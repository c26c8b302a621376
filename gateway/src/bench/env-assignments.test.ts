import { describe, expect, it } from 'vitest';
import { parseEnvAssignments } from './env-assignments.ts';

describe('parseEnvAssignments', () => {
  it('reads NAME=VALUE, keeping any = in the value and empty values', () => {
    expect(parseEnvAssignments(['MALLOC_ARENA_MAX=2', 'GLIBC_TUNABLES=glibc.malloc.trim_threshold=131072', 'EMPTY='])).toEqual({
      MALLOC_ARENA_MAX: '2',
      GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=131072',
      EMPTY: '',
    });
  });

  it('refuses an assignment without a valid name', () => {
    for (const bad of ['=1', 'NOVALUE', '1A=2', 'A B=1']) expect(() => parseEnvAssignments([bad])).toThrow(/NAME=VALUE/);
  });
});
