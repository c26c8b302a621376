import { describe, expect, it } from 'vitest';
import { frozenJson } from './frozen-json.ts';

describe('frozenJson', () => {
  it('gives what JSON.stringify gives, for every kind of value it takes a shortcut for and the rest', () => {
    const withToJson = Object.assign([], { toJSON: () => 'mine' });
    const frozen = Object.freeze({ a: Object.freeze(['x', null]), b: true });
    const values: unknown[] = [null, true, false, 0, -1.5, 'plain', 'quote " and \\ and \n', undefined, [], withToJson, [1, [], null], {}, { a: [] }, frozen, Object.freeze([]), new Date(0)];
    for (const v of values) expect(frozenJson(v)).toBe(JSON.stringify(v));
    expect(frozenJson(frozen)).toBe(JSON.stringify(frozen)); // the kept JSON, second time
  });

  it('serializes an unfrozen part again after it changed', () => {
    const list: string[] = [];
    expect(frozenJson(list)).toBe('[]');
    list.push('a');
    expect(frozenJson(list)).toBe('["a"]');
  });
});
