import { describe, expect, it } from 'vitest';
import { facts, identity as exampleIdentity, SESSION, table } from './example-inputs.ts';
import { buildPolicyInput } from './input.ts';
import { InputKeyMemo } from './input-key-memo.ts';
import { inputKey, type InputPath, type InputReads } from './input-reads.ts';
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

/** A built input as the decision point makes it: frozen shared parts, a fresh settings list. */
function built(text = 'SELECT abalance FROM pgbench_accounts WHERE aid = 1'): PolicyInput {
  return buildPolicyInput({
    identity: BENCH,
    session: SESSION,
    text,
    protocol: 'simple',
    facts: BENCH_FACTS,
  });
}
const BENCH = exampleIdentity(['bench'], []);
const BENCH_FACTS = Object.freeze(facts('select', 'SelectStmt', { tablesRead: [table('public.pgbench_accounts')], columns: { 'public.pgbench_accounts': ['abalance', 'aid'] }, hasWhere: true }));

/** Another value of the same kind as `value`, frozen throughout like the builder's (so only its content tells it apart). */
function other(value: unknown): unknown {
  if (typeof value === 'string') return `${value}-other`;
  if (typeof value === 'boolean') return !value;
  if (typeof value === 'number') return value + 1;
  if (value === null) return 'x';
  if (Array.isArray(value)) return Object.freeze([...value, 'other']);
  return Object.freeze({ ...(value as object), other: Object.freeze(['x']) });
}

/** `input` with one value replaced: a top-level field, or a field of one of its parts. */
function changed(input: PolicyInput, path: InputPath, value: unknown): PolicyInput {
  const top = input as unknown as Record<string, Record<string, unknown>>;
  if (path.length === 1) return { ...input, [path[0]]: value } as PolicyInput;
  return { ...input, [path[0]]: Object.freeze({ ...top[path[0]], [path[1]]: value }) } as PolicyInput;
}

/** Every value of a built input: the top-level scalars and parts, each field of the statement. */
function everyPath(input: PolicyInput): InputPath[] {
  const paths: InputPath[] = [['version'], ['identity'], ['session']];
  for (const field of Object.keys(input.statement)) paths.push(['statement', field]);
  for (const field of Object.keys(input.identity)) paths.push(['identity', field]);
  for (const field of Object.keys(input.session)) paths.push(['session', field]);
  return paths;
}

describe('InputKeyMemo whole-input check (the same loads for every engine)', () => {
  it('gives the last key for the next statement of the same shape, whichever paths are read', () => {
    for (const reads of [READS, { kind: 'paths', paths: everyPath(built()).filter((p) => !(p[0] === 'statement' && p[1] === 'text')) } as InputReads]) {
      const memo = new InputKeyMemo();
      const first = memo.keyOf('cedar\u0000', built('SELECT abalance FROM pgbench_accounts WHERE aid = 1'), reads);
      const second = memo.keyOf('cedar\u0000', built('SELECT abalance FROM pgbench_accounts WHERE aid = 2'), reads);
      expect(Object.is(first, second)).toBe(true);
    }
  });

  it('misses when any one value of the input changes, the statement text included when it is read', () => {
    const base = built();
    const paths = everyPath(base);
    expect(paths.length).toBeGreaterThan(30);
    for (const path of paths) {
      const reads: InputReads = { kind: 'paths', paths: [path] };
      const value = path.length === 1 ? (base as unknown as Record<string, unknown>)[path[0]] : (base as unknown as Record<string, Record<string, unknown>>)[path[0]]![path[1]];
      const next = changed(built(), path, other(value));
      const memo = new InputKeyMemo();
      const before = memo.keyOf('rego\u0000', base, reads);
      // The same shape once more (the whole-input check now answers), then the changed value.
      expect(memo.keyOf('rego\u0000', built(), reads), path.join('.')).toBe(before);
      const after = memo.keyOf('rego\u0000', next, reads);
      expect(after, path.join('.')).toBe(`rego\u0000${inputKey(next, reads)}`);
      expect(after, path.join('.')).not.toBe(before);
    }
  });

  it('misses when a value read is changed in place in an object frozen only at its top', () => {
    const inner = ['public.pgbench_accounts'];
    const shallow = Object.freeze({ 'public.pgbench_accounts': inner });
    const input = changed(built(), ['statement', 'columns'], shallow);
    const reads: InputReads = { kind: 'paths', paths: [['statement', 'columns']] };
    const memo = new InputKeyMemo();
    const before = memo.keyOf('rego\u0000', input, reads);
    inner.push('public.secret');
    const after = memo.keyOf('rego\u0000', input, reads);
    expect(after).not.toBe(before);
    expect(after).toBe(`rego\u0000${inputKey(input, reads)}`);
  });

  it('misses when an unread field changes and then a read one, after a path-by-path answer', () => {
    const reads: InputReads = { kind: 'paths', paths: [['statement', 'kind']] };
    const memo = new InputKeyMemo();
    const first = memo.keyOf('rego\u0000', built(), reads);
    // has_where is not read: the same key, by the read paths (the whole-input check fails).
    expect(memo.keyOf('rego\u0000', changed(built(), ['statement', 'has_where'], false), reads)).toBe(first);
    const insert = changed(built(), ['statement', 'kind'], 'insert');
    expect(memo.keyOf('rego\u0000', insert, reads)).toBe(`rego\u0000${inputKey(insert, reads)}`);
  });
});
