// Red team (round 10b) of Cedar slicing (cedar-slices.ts): adversarial policy sets, each loaded
// sliced and whole, must give identical verdicts for principals in several groups, by role, by
// subject, with and without optional attributes, for execute, read and write requests. No finding:
// every set below decides alike sliced and whole.

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSqlParser } from '../sql/parser.ts';
import { loadCedarEngine } from './cedar-engine.ts';
import { facts, input, readPatients, table } from './example-inputs.ts';
import type { PolicyInput } from './types.ts';

let work: string;
let n = 0;

beforeAll(async () => {
  await loadSqlParser();
  work = await mkdtemp(join(tmpdir(), 'gatehouse-cedar-redteam-'));
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

const A = 'Gatehouse::Action::';
const G = 'Gatehouse::Group::';

/** The statements every set is asked about: a read, a write, an execute-only one, COPY and SET. */
function statements(groups: string[], roles: string[] = []): PolicyInput[] {
  const write = facts('update', 'UpdateStmt', {
    tablesWritten: [table('clinical.patients')],
    tablesRead: [table('public.t')],
    columns: { 'clinical.patients': ['ssn'], 'public.t': ['a'] },
    hasWhere: true,
  });
  const copy = facts('copy', 'CopyStmt', { tablesRead: [table('public.t')], copy: { direction: 'to', endpoint: 'stdio' } } as never);
  const set = facts('set', 'VariableSetStmt', { setting: 'role', settings: ['role'] } as never);
  return [
    input(groups, 'SELECT * FROM clinical.patients', readPatients, roles),
    input(groups, 'UPDATE clinical.patients SET ssn = 1 WHERE id = 2', write, roles),
    input(groups, 'SHOW x', facts('show', 'VariableShowStmt'), roles),
    input(groups, 'COPY public.t TO STDOUT', copy, roles),
    input(groups, 'SET role x', set, roles),
  ];
}

function withSubject(i: PolicyInput, subject: string, name: string | null): PolicyInput {
  return { ...i, identity: { ...i.identity, subject, name } };
}

const IDENTITIES: Array<[string[], string[]]> = [
  [[], []],
  [['agents'], []],
  [[], ['agents']],
  [['agents', 'breakglass'], []],
  [['agents'], ['breakglass']],
  [['support', 'admins', 'agents'], ['ops']],
  [['admins'], []],
  [['x'], ['y']],
];

function allInputs(): PolicyInput[] {
  const out: PolicyInput[] = [];
  for (const [groups, roles] of IDENTITIES) {
    for (const s of statements(groups, roles)) {
      out.push(s, withSubject(s, 'alice', null), withSubject(s, 'admins', 'admins'));
    }
  }
  return out;
}

/** Loads `policies` sliced and whole from their own directory and compares every verdict. */
async function expectSameVerdicts(policies: string[]): Promise<void> {
  const dir = join(work, `set-${n++}`);
  await mkdir(dir);
  await writeFile(join(dir, 'p.cedar'), policies.join('\n\n'));
  const sliced = await loadCedarEngine(dir, 'sliced');
  const whole = await loadCedarEngine(dir, 'whole', { slicing: false });
  for (const i of allInputs()) {
    const expected = { text: i.statement.text, identity: i.identity, verdict: whole.evaluate(i) };
    for (let round = 0; round < 2; round++) {
      expect({ text: i.statement.text, identity: i.identity, verdict: sliced.evaluate(i) }).toEqual(expected);
    }
  }
}

const PERMIT_ALL = [
  `@id("exec-all")\npermit (principal, action == ${A}"execute", resource);`,
  `@id("read-all")\npermit (principal, action in [${A}"read", ${A}"write"], resource);`,
];

describe('Cedar slicing red team (R10b)', () => {
  it('forbids scoped by group, nested/several groups, role, subject', async () => {
    await expectSameVerdicts([
      ...PERMIT_ALL,
      `@id("f-group")\nforbid (principal in ${G}"admins", action, resource);`,
      `@id("f-agent")\nforbid (principal == Gatehouse::Agent::"alice", action == ${A}"write", resource);`,
      `@id("f-agent-in")\nforbid (principal in Gatehouse::Agent::"admins", action == ${A}"read", resource);`,
      `@id("f-is")\nforbid (principal is Gatehouse::Agent in ${G}"ops", action, resource is Gatehouse::Table);`,
      `@id("f-is-plain")\nforbid (principal is Gatehouse::Agent, action == ${A}"execute", resource) when { context.kind == "set" };`,
      `@id("f-unless")\nforbid (principal, action, resource) unless { principal in ${G}"agents" || principal in ${G}"x" };`,
      `@id("f-cond-in")\nforbid (principal, action, resource) when { principal in ${G}"breakglass" && context.kind == "update" };`,
    ]);
  });

  it('forbids on resources and action sets', async () => {
    await expectSameVerdicts([
      ...PERMIT_ALL,
      `@id("f-res-eq")\nforbid (principal, action in [${A}"read", ${A}"execute"], resource == Gatehouse::Table::"public.t");`,
      `@id("f-res-in")\nforbid (principal, action, resource in Gatehouse::Table::"clinical.patients") when { context.columns.contains("ssn") };`,
      `@id("f-db")\nforbid (principal, action, resource == Gatehouse::Database::"clinic") when { context has copy_direction };`,
      `@id("f-db-in")\nforbid (principal in ${G}"support", action, resource in Gatehouse::Database::"clinic");`,
      `@id("f-act-in")\nforbid (principal, action in ${A}"write", resource) when { resource.schema == "clinical" };`,
    ]);
  });

  it('conditions that test optional attributes and context whole', async () => {
    await expectSameVerdicts([
      ...PERMIT_ALL,
      `@id("f-has-name")\nforbid (principal, action == ${A}"read", resource) unless { principal has name };`,
      `@id("f-name")\nforbid (principal, action == ${A}"execute", resource) when { principal has name && principal.name == "admins" };`,
      `@id("f-ctx-has")\nforbid (principal, action, resource) when { context has setting && context.setting == "role" };`,
      `@id("f-ctx-has-inner")\nforbid (principal, action, resource) unless { context has inner_kind || context.tables_read.isEmpty() || context.has_where };`,
      `@id("f-ctx-whole")\nforbid (principal, action, resource) when { context == context && context has prepared_name };`,
      `@id("f-issuer")\nforbid (principal, action == ${A}"write", resource) when { principal.issuer like "*example*" };`,
    ]);
  });

  it('masks on a policy that slicing might exclude', async () => {
    await expectSameVerdicts([
      `@id("exec-all")\npermit (principal, action == ${A}"execute", resource);`,
      `@id("m-agents")\n@mask("ssn:redact")\npermit (principal in ${G}"agents", action == ${A}"read", resource == Gatehouse::Table::"clinical.patients");`,
      `@id("m-role")\n@mask("mrn:hash")\npermit (principal in ${G}"breakglass", action, resource is Gatehouse::Table) when { resource.name == "patients" };`,
      `@id("allow-admins")\npermit (principal in ${G}"admins", action, resource);`,
      `@id("write-ok")\npermit (principal, action == ${A}"write", resource) when { principal has name };`,
    ]);
  });

  it('conditions that error at run time, in forbids and permits of several slices', async () => {
    const overflow = '9223372036854775807 + 1 > 0';
    await expectSameVerdicts([
      ...PERMIT_ALL,
      `@id("e-1")\nforbid (principal in ${G}"agents", action == ${A}"read", resource) when { ${overflow} };`,
      `@id("e-2")\nforbid (principal, action, resource) when { principal has name && decimal("1.0").lessThan(decimal("2.0")) && context.client_address like "10.*" && ${overflow} };`,
      `@id("e-3")\npermit (principal in ${G}"admins", action, resource) when { context.kind == "select" && ${overflow} };`,
      `@id("e-4")\nforbid (principal == Gatehouse::Agent::"alice", action, resource) when { context.functions.contains("x") || ${overflow} };`,
    ]);
  });

  it('entity literals and other entities in conditions', async () => {
    await expectSameVerdicts([
      ...PERMIT_ALL,
      `@id("o-1")\nforbid (principal, action, resource) when { ${G}"admins" in ${G}"admins" && principal in ${G}"admins" };`,
      `@id("o-2")\nforbid (principal, action, resource) when { (if context.tls then principal else principal) in ${G}"ops" };`,
      `@id("o-3")\nforbid (principal, action, resource) when { (if context.tls then principal else principal).issuer == "https://idp.example.test" && principal has name };`,
      `@id("o-4")\nforbid (principal, action, resource) when { {p: principal}.p.issuer == "nope" || [principal].contains(Gatehouse::Agent::"alice") };`,
    ]);
  });

  it('odd spellings of scope entities (whitespace around ::, escapes)', async () => {
    await expectSameVerdicts([
      ...PERMIT_ALL,
      `@id("s-1")\nforbid (principal is Gatehouse :: Agent in Gatehouse :: Group :: "ad\\u{6d}ins", action == Gatehouse :: Action :: "read", resource);`,
      `@id("s-2")\nforbid (principal in Gatehouse::Group::"\\x61gents", action in [Gatehouse::Action::"write"], resource is Gatehouse :: Table);`,
    ]);
  });

  it('more distinct slices than preparsed-set slots: every one still decides as the whole set', async () => {
    const policies = [...PERMIT_ALL];
    for (let g = 0; g < 60; g++) policies.push(`@id("f-g${g}")\nforbid (principal in ${G}"g${g}", action == ${A}"read", resource) when { context.kind == "select" };`);
    const dir = join(work, 'many');
    await mkdir(dir);
    await writeFile(join(dir, 'p.cedar'), policies.join('\n\n'));
    const sliced = await loadCedarEngine(dir, 'sliced');
    const whole = await loadCedarEngine(dir, 'whole', { slicing: false });
    for (let round = 0; round < 2; round++) {
      for (let g = 0; g < 60; g++) {
        const i = input([`g${g}`, `g${(g * 7) % 60}`], 'SELECT * FROM clinical.patients', readPatients);
        const verdict = sliced.evaluate(i);
        expect(verdict).toEqual(whole.evaluate(i));
        expect(verdict.action).toBe('deny');
      }
    }
  });

  // A name every JS object inherits (toString, constructor, __proto__) tested with `has`: slicing
  // looks the name up on the context and attribute objects; the inherited value must not be sent.
  it('`has` tests of names every JS object inherits (toString, constructor, __proto__)', async () => {
    await expectSameVerdicts([
      `@id("p-ctx")\npermit (principal, action, resource) unless { context has toString };`,
      `@id("p-agent")\npermit (principal, action == ${A}"read", resource) unless { principal has constructor };`,
      `@id("p-table")\npermit (principal, action == ${A}"write", resource is Gatehouse::Table) unless { resource has __proto__ || resource has hasOwnProperty };`,
    ]);
    const dir = join(work, `set-${n - 1}`);
    const sliced = await loadCedarEngine(dir, 'sliced');
    expect(sliced.evaluate(input(['agents'], 'SELECT * FROM clinical.patients', readPatients)).action).toBe('allow');
  });

  it('many determining policies at once, among policies sliced away: the same reasons, policies and masks in the same order', async () => {
    const policies: string[] = [`@id("exec-all")\npermit (principal, action == ${A}"execute", resource);`];
    const ids = ['zeta', 'alpha', 'mu', 'beta', 'omega', 'kappa', 'delta', 'nu', 'eps', 'chi', 'gamma', 'rho'];
    ids.forEach((id, i) => {
      policies.push(`@id("other-${id}")\nforbid (principal in ${G}"nobody-${i}", action, resource);`);
      policies.push(`@id("m-${id}")\n@reason("mask ${id}")\n@mask("${['ssn', 'mrn', 'phone', 'email'][i % 4]}:redact")\npermit (principal in ${G}"agents", action == ${A}"read", resource);`);
      policies.push(`@id("f-${id}")\n@reason("forbid ${id}")\nforbid (principal in ${G}"admins", action, resource) when { context.kind != "${id}" };`);
      policies.push(`@id("w-${id}")\npermit (principal in ${G}"nobody-${i}", action == ${A}"write", resource);`);
    });
    await expectSameVerdicts(policies);
  });
});
