// Both engines, the example policies in policies/rego and policies/cedar, the same inputs: same outcomes.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCENARIOS } from './example-inputs.ts';
import { loadPolicyEngine } from './load.ts';
import type { EngineVerdict, PolicyEngine } from './types.ts';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));

let buildDir: string;
const engines: Record<'rego' | 'cedar', PolicyEngine | undefined> = { rego: undefined, cedar: undefined };

beforeAll(async () => {
  buildDir = await mkdtemp(join(tmpdir(), 'gatehouse-engines-'));
  engines.rego = await loadPolicyEngine({ engine: 'rego', directory: join(REPO, 'policies/rego'), buildDir });
  engines.cedar = await loadPolicyEngine({ engine: 'cedar', directory: join(REPO, 'policies/cedar'), buildDir });
}, 120_000);

afterAll(async () => {
  await rm(buildDir, { recursive: true, force: true });
});

function outcome(v: EngineVerdict): { action: string; policies: string[]; masks: string[] } {
  return {
    action: v.action,
    policies: v.policies,
    masks: v.masks.map((m) => `${m.table}:${m.column}:${m.strategy}:${m.policy}`),
  };
}

describe.each(['rego', 'cedar'] as const)('%s engine on the example policies', (kind) => {
  it.each(SCENARIOS)('$name', (scenario) => {
    const verdict = engines[kind]!.evaluate(scenario.input);
    expect(verdict.action).toBe(scenario.action);
    expect(verdict.policies).toEqual(scenario.policies);
    const expectedMasks = (scenario.masks ?? []).map((m) => {
      const [column, strategy] = m.split(':');
      return `clinical.patients:${column}:${strategy}:clinical-read-masked`;
    });
    expect(outcome(verdict).masks).toEqual(expectedMasks);
    expect(verdict.reason).not.toBe('');
  });

  it('reports its kind and a directory revision', () => {
    expect(engines[kind]!.kind).toBe(kind);
    expect(engines[kind]!.revision).toMatch(/^dir:[0-9a-f]{64}$/);
  });
});

describe('rego and cedar agree', () => {
  it.each(SCENARIOS)('$name', (scenario) => {
    const rego = engines.rego!.evaluate(scenario.input);
    const cedar = engines.cedar!.evaluate(scenario.input);
    expect(outcome(cedar)).toEqual(outcome(rego));
    // Reasons are written to match too, so the audit record reads the same.
    expect(cedar.reason).toBe(rego.reason);
  });
});
