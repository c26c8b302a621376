// Proof that slicing (cedar-slices.ts) changes no decision: the example policies sliced and whole
// give identical verdicts over the bench corpus, every policy-tests/ input and the engine tests'
// inputs; so does a set whose policies error at run time.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decisionCorpus } from '../bench/decision-timing.ts';
import { loadSqlParser } from '../sql/parser.ts';
import { loadCedarEngine } from './cedar-engine.ts';
import { facts, input, readPatients } from './example-inputs.ts';
import { evaluationFor } from './testing/case-input.ts';
import { loadCaseDirectory } from './testing/cases.ts';
import type { PolicyEngine, PolicyInput } from './types.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
let work: string;

beforeAll(async () => {
  await loadSqlParser();
  work = await mkdtemp(join(tmpdir(), 'gatehouse-cedar-slicing-'));
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function caseInputs(): Promise<PolicyInput[]> {
  const files = await loadCaseDirectory(join(ROOT, 'policy-tests'), ROOT);
  const inputs: PolicyInput[] = [];
  for (const c of files.flatMap((f) => f.cases)) {
    const evaluation = evaluationFor(c);
    if (evaluation.type === 'input') inputs.push(evaluation.input);
  }
  return inputs;
}

/** The same input seen by other identities: roles, several groups, none. */
function variants(base: PolicyInput): PolicyInput[] {
  const as = (groups: string[], roles: string[]): PolicyInput => ({ ...base, identity: { ...base.identity, groups, roles } });
  return [base, as([], ['agents']), as(['agents', 'breakglass'], []), as(['bench', 'support'], ['bench_masked']), as([], [])];
}

function compare(sliced: PolicyEngine, whole: PolicyEngine, inputs: readonly PolicyInput[]): number {
  for (const i of inputs) {
    const expected = { statement: i.statement.text, identity: i.identity, verdict: whole.evaluate(i) };
    // Twice: the second answer comes from remembered slices and preparsed sets.
    for (let round = 0; round < 2; round++) {
      expect({ statement: i.statement.text, identity: i.identity, verdict: sliced.evaluate(i) }).toEqual(expected);
    }
  }
  return inputs.length;
}

describe('Cedar slicing', () => {
  it('decides the example policies exactly as the whole set does', async () => {
    const dir = join(ROOT, 'policies/cedar');
    const sliced = await loadCedarEngine(dir, 'sliced');
    const whole = await loadCedarEngine(dir, 'whole', { slicing: false });
    const inputs = [
      ...decisionCorpus(),
      ...(await caseInputs()),
      input(['agents'], 'SELECT * FROM clinical.patients', readPatients),
      input(['support'], 'SHOW x', facts('show', 'VariableShowStmt')),
    ].flatMap(variants);
    expect(compare(sliced, whole, inputs)).toBeGreaterThan(500);
  }, 300_000);

  it('decides a set whose policies error at run time exactly as the whole set does', async () => {
    await writeFile(
      join(work, 'errors.cedar'),
      [
        '@id("execute-all")\npermit (principal, action == Gatehouse::Action::"execute", resource);',
        '@id("read-all")\npermit (principal, action == Gatehouse::Action::"read", resource);',
        '@id("overflow-forbid")\nforbid (principal in Gatehouse::Group::"agents", action, resource)\nwhen { context.kind == "select" && 9223372036854775807 + 1 > 0 };',
        '@id("overflow-permit")\n@mask("ssn:redact")\npermit (principal, action == Gatehouse::Action::"read", resource is Gatehouse::Table)\nwhen { resource.schema == "clinical" && 9223372036854775807 + 1 > 0 };',
      ].join('\n\n'),
    );
    const sliced = await loadCedarEngine(work, 'sliced');
    const whole = await loadCedarEngine(work, 'whole', { slicing: false });
    const inputs = [
      input(['agents'], 'SELECT * FROM clinical.patients', readPatients),
      input(['other'], 'SELECT * FROM clinical.patients', readPatients),
      input(['agents'], 'SHOW x', facts('show', 'VariableShowStmt')),
    ];
    compare(sliced, whole, inputs.flatMap(variants));
    expect(sliced.evaluate(inputs[0]!).policies).toEqual(['overflow-forbid', 'overflow-permit']);
  });
});
