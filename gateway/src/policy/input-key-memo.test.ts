import { describe, expect, it } from 'vitest';
import { InputKeyMemo } from './input-key-memo.ts';
import { inputKey, type InputReads } from './input-reads.ts';
import type { PolicyInput } from './types.ts';

const READS: InputReads = { kind: 'paths', paths: [['identity', 'groups'], ['statement', 'kind'], ['statement', 'settings'], ['statement', 'tables_read']] };

const identity = Object.freeze({ subject: 's', groups: Object.freeze(['bench']), roles: Object.freeze([]) });
const tables = Object.freeze(['public.t']);

function input(statement: Record<string, unknown>, who: object = identity): PolicyInput {
  return { version: 1, identity: who, session: {}, statement: { kind: 'select', settings: [], tables_read: tables, ...statement } } as unknown as PolicyInput;
}

describe('InputKeyMemo', () => {
  it('gives back the very same key string when nothing the policy reads changed', () => {
    const memo = new InputKeyMemo();
    const first = memo.keyOf('rego\u0000', input({ text: 'SELECT 1' }), READS);
    const second = memo.keyOf('rego\u0000', input({ text: 'SELECT 2' }), READS);
    expect(second).toBe(`rego\u0000${inputKey(input({}), READS)}`);
    expect(Object.is(first, second)).toBe(true);
  });

  it('makes the key afresh when a read value changed, even in an object that was the same and not frozen', () => {
    const memo = new InputKeyMemo();
    const tablesList = ['public.t'];
    const a = input({ tables_read: tablesList });
    const before = memo.keyOf('rego\u0000', a, READS);
    tablesList.push('public.secret'); // same array, new content: the key must say so
    const after = memo.keyOf('rego\u0000', a, READS);
    expect(after).not.toBe(before);
    expect(after).toBe(`rego\u0000${inputKey(a, READS)}`);
  });

  it('tells apart a primitive, an empty list, another frozen object, another prefix and other reads', () => {
    const memo = new InputKeyMemo();
    const cases: Array<[string, PolicyInput, InputReads]> = [
      ['rego\u0000', input({}), READS],
      ['rego\u0000', input({ kind: 'insert' }), READS],
      ['rego\u0000', input({ settings: ['role'] }), READS],
      ['rego\u0000', input({}, Object.freeze({ subject: 's', groups: Object.freeze(['admins']), roles: Object.freeze([]) })), READS],
      ['cedar\u0000', input({}), READS],
      ['rego\u0000', input({}), { kind: 'paths', paths: [['statement', 'kind']] }],
      ['rego\u0000', input({ kind: 'delete' }), { kind: 'all' }],
    ];
    for (const [prefix, i, reads] of cases) expect(memo.keyOf(prefix, i, reads)).toBe(`${prefix}${inputKey(i, reads)}`);
  });
});
