import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { input as exampleInput, readPatients } from './example-inputs.ts';
import { cedarInputReads, inputKey, regoInputReads, regoVerdictReads, type InputReads } from './input-reads.ts';
import type { PolicyInput } from './types.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
const paths = (reads: InputReads): string[] | 'all' => (reads.kind === 'all' ? 'all' : reads.paths.map((p) => p.join('.')));

describe('regoInputReads', () => {
  it('collects the paths after input, two levels deep, sorted and without duplicates', () => {
    const source = `package gatehouse
deny contains x if { input.statement.kind == "ddl"; some t in input.statement.tables_read[_]; x := t }
allow contains 1 if input.identity.groups[_] == "a"
mask contains 1 if input.statement.copy.endpoint == "file"
allow contains 2 if input.identity["roles"][_] == "b"
`;
    expect(paths(regoInputReads([source]))).toEqual(['identity.groups', 'identity.roles', 'statement.copy', 'statement.kind', 'statement.tables_read']);
  });

  it('ignores input in comments and strings', () => {
    const source = 'package p\n# input.session.id is not read\nx := "input.statement.text"\ny := `input`\nz if input.statement.kind == "#"\n';
    expect(paths(regoInputReads([source]))).toEqual(['statement.kind']);
  });

  it('a path read whole covers the paths under it', () => {
    expect(paths(regoInputReads(['import input.statement as s\nx if s.text == "" ; input.statement.kind == "x"']))).toEqual(['statement']);
  });

  it.each([
    ['import input', 'import input\nx if input.statement.kind == "select"'],
    ['the input passed to a function', 'x if f(input)'],
    ['a computed key', 'x if input[k] == 1'],
    ['with input as', 'x if data.y with input as {}'],
    ['walk', 'x if walk(input, [p, v])'],
    // R7-1: the expressions of a template string were skipped as if they were string text.
    ['a template string', 'msg := $"app={input.session.application_name}"\nx if msg == "app=evil"'],
    ['a raw template string', 'msg := $`{input.statement.text}`\nx if input.statement.kind == "drop"'],
  ])('anything, for %s', (_name, source) => {
    expect(regoInputReads([source])).toEqual({ kind: 'all' });
  });

  it('the example policies read groups, roles and statement facts, but no session field and not the text', () => {
    const sources = ['bench', 'catalog', 'clinical', 'gatehouse', 'routines', 'statements'].map((n) => readFileSync(join(ROOT, 'policies/rego', `${n}.rego`), 'utf8'));
    const read = paths(regoInputReads(sources));
    expect(read).toContain('identity.groups');
    expect(read).not.toContain('statement.text');
    expect(read).not.toContain('statement');
    expect(Array.isArray(read) && read.filter((p) => p.startsWith('session'))).toEqual([]);
  });
});

describe('cedarInputReads', () => {
  it('reads the identity and every statement fact but the text; a session attribute only when a policy names it', () => {
    const quiet = paths(cedarInputReads(['permit (principal, action, resource);']));
    expect(quiet).toContain('identity');
    expect(quiet).toContain('statement.has_limit');
    expect(quiet).toContain('session.database');
    expect(quiet).not.toContain('statement.text');
    expect(quiet).not.toContain('session.client_address');
    expect(paths(cedarInputReads(['permit (principal, action, resource) when { context.client_address == "10.0.0.1" };']))).toContain('session.client_address');
  });
});

describe('inputKey', () => {
  const EXAMPLE_INPUT = exampleInput(['agents'], 'SELECT id FROM clinical.patients', readPatients);
  const input = (change: (i: PolicyInput) => void): PolicyInput => {
    const copy = structuredClone(EXAMPLE_INPUT);
    change(copy);
    return copy;
  };
  const reads: InputReads = { kind: 'paths', paths: [['identity', 'groups'], ['statement', 'kind'], ['statement', 'inner_kind']] };

  it('is the same for inputs that differ only in what is not read', () => {
    const a = input((i) => ((i.session.id = 'a'), (i.statement.text = 'SELECT 1')));
    const b = input((i) => ((i.session.id = 'b'), (i.statement.text = 'SELECT 2')));
    expect(inputKey(a, reads)).toBe(inputKey(b, reads));
    expect(inputKey(a, { kind: 'all' })).not.toBe(inputKey(b, { kind: 'all' }));
  });

  it('differs when a read value differs, and tells a missing value from null', () => {
    const base = inputKey(EXAMPLE_INPUT, reads);
    expect(inputKey(input((i) => (i.identity.groups = ['other'])), reads)).not.toBe(base);
    const nullKind = input((i) => (i.statement.inner_kind = null));
    const missingKind = input((i) => delete (i.statement as Partial<PolicyInput['statement']>).inner_kind);
    expect(inputKey(nullKind, reads)).not.toBe(inputKey(missingKind, reads));
  });
});

describe('regoVerdictReads', () => {
  it('adds statement.trigger_functions, which the reviewed list depends on, to what the sources read', () => {
    const reads = regoVerdictReads(['package gatehouse\nreviewed contains "public.stamp"\nallow contains 1 if input.statement.kind == "insert"']);
    expect(reads.kind === 'paths' ? reads.paths.map((p) => p.join('.')) : reads.kind).toEqual(['statement.kind', 'statement.trigger_functions']);
    expect(regoVerdictReads(['x := input']).kind).toBe('all');
  });
});
