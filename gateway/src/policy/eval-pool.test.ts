import { join, resolve } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EvalPool } from './eval-pool.ts';
import { input, readPatients, SCENARIOS } from './example-inputs.ts';
import { loadPolicyEngine } from './load.ts';
import type { PolicyEngine } from './types.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
let rego: PolicyEngine;
let cedar: PolicyEngine;
const pool = new EvalPool({ workers: 1 });

beforeAll(async () => {
  const buildDir = mkdtempSync(join(tmpdir(), 'gatehouse-pool-'));
  rego = await loadPolicyEngine({ engine: 'rego', directory: join(ROOT, 'policies/rego'), buildDir });
  cedar = await loadPolicyEngine({ engine: 'cedar', directory: join(ROOT, 'policies/cedar'), buildDir });
});
afterAll(() => pool.close());

describe('EvalPool', () => {
  it('gives the verdicts the engines give in-process, for both engines', async () => {
    for (const engine of [rego, cedar]) {
      for (const s of SCENARIOS.slice(0, 8)) {
        const pooled = await pool.evaluate(engine, s.input, 5000);
        expect(pooled.verdict, `${engine.kind}: ${s.name}`).toEqual(engine.evaluate(s.input));
        expect(pooled.stopped).toBeUndefined();
      }
    }
  });

  it('evaluates an engine without a spec (a test double) in-process, at once', () => {
    const double: PolicyEngine = { kind: 'rego', revision: 'double', deterministic: true, evaluate: () => ({ action: 'allow', reason: 'double', policies: ['d'], masks: [] }) };
    const result = pool.evaluate(double, input(['agents'], 'SELECT 1', readPatients), 100);
    expect(result).not.toBeInstanceOf(Promise);
    expect(result).toMatchObject({ verdict: { action: 'allow' } });
  });
});
