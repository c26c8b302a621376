import { describe, expect, it } from 'vitest';
import { expandEnv, expandString } from './env-expand.ts';

describe('expandString', () => {
  it('follows shell semantics for empty and unset variables', () => {
    const problems: string[] = [];
    const env = { SET: 'v', EMPTY: '' };
    expect(expandString('${SET}-${EMPTY}-${EMPTY:-d}-${UNSET:-}-${UNSET:-x y}', env, problems)).toBe('v--d--x y');
    expect(problems).toEqual([]);
  });

  it('reports unset and malformed references', () => {
    const problems: string[] = [];
    expandString('${UNSET} ${1BAD} ${', {}, problems);
    expect(problems).toHaveLength(3);
    expect(problems[0]).toContain('UNSET is not set');
  });

  it('leaves $ alone when it does not start a reference', () => {
    const problems: string[] = [];
    expect(expandString('pa$$word $HOME $${LITERAL}', {}, problems)).toBe('pa$$word $HOME ${LITERAL}');
    expect(problems).toEqual([]);
  });
});

describe('expandEnv', () => {
  it('expands strings inside objects and arrays only, reporting paths', () => {
    const problems: string[] = [];
    const out = expandEnv({ a: { b: ['${X}', 1, true, null] }, c: '${NOPE}' }, { X: 'x' }, problems);
    expect(out).toEqual({ a: { b: ['x', 1, true, null] }, c: '${NOPE}' });
    expect(problems).toEqual(['c: environment variable NOPE is not set']);
  });
});
