import { join, resolve } from 'node:path';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EvalPool } from './eval-pool.ts';
import { input, readPatients, SCENARIOS } from './example-inputs.ts';
import { loadPolicyEngine } from './load.ts';
import type { PolicyEngine } from './types.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
let rego: PolicyEngine;
let cedar: PolicyEngine;
/** The repository's Rego policies plus a rule that loops for statements carrying a marker. */
let looping: PolicyEngine;
const LOOPING_RULE = `package gatehouse

deny contains {"id": "slow", "reason": "never reached in time"} if {
	contains(input.statement.text, "pool_slow_marker")
	count([1 | some a in numbers.range(1, 20000); some b in numbers.range(1, 20000); a * b == -1]) == 0
}
`;
const pool = new EvalPool({ workers: 1 });

beforeAll(async () => {
  const buildDir = mkdtempSync(join(tmpdir(), 'gatehouse-pool-'));
  rego = await loadPolicyEngine({ engine: 'rego', directory: join(ROOT, 'policies/rego'), buildDir });
  cedar = await loadPolicyEngine({ engine: 'cedar', directory: join(ROOT, 'policies/cedar'), buildDir });
  const loopingDir = mkdtempSync(join(tmpdir(), 'gatehouse-pool-looping-'));
  cpSync(join(ROOT, 'policies/rego'), loopingDir, { recursive: true });
  rmSync(join(loopingDir, 'gatehouse_test.rego'), { force: true });
  writeFileSync(join(loopingDir, 'slow.rego'), LOOPING_RULE);
  looping = await loadPolicyEngine({ engine: 'rego', directory: loopingDir, buildDir: mkdtempSync(join(tmpdir(), 'gatehouse-pool-looping-build-')) });
});

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((r) => setTimeout(r, 10));
}

/** Cuts one evaluation off at its deadline, then evaluates an ordinary statement: what the pool had to do for it. */
async function afterACutOff(spares: number) {
  const p = new EvalPool({ workers: 1, spares });
  try {
    const ok = input(['agents'], 'SELECT 1', readPatients);
    expect((await p.evaluate(looping, ok, 5000)).stopped).toBeUndefined();
    if (spares > 0) await until(() => p.stats().sparesWarmed >= 1);
    const before = p.stats();
    const cut = await p.evaluate(looping, input(['agents'], "SELECT 'pool_slow_marker'", readPatients), 50);
    expect(cut.stopped).toBe('budget');
    const next = await p.evaluate(looping, ok, 5000);
    expect(next.stopped).toBeUndefined();
    expect(next.verdict).toEqual(looping.evaluate(ok));
    const after = p.stats();
    return { promoted: after.promoted - before.promoted, loads: after.loadsBeforeEvaluation - before.loadsBeforeEvaluation, workers: after.workers, spares: after.spares };
  } finally {
    await p.close();
  }
}
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

  it('puts a warm spare in the place of a worker cut off at its deadline: the next evaluation waits for no thread start or policy load', async () => {
    expect(await afterACutOff(1)).toEqual({ promoted: 1, loads: 0, workers: 1, spares: 1 });
  });

  it('without spares, the evaluation after a cut-off waits for a fresh worker to load the policy', async () => {
    expect(await afterACutOff(0)).toEqual({ promoted: 0, loads: 1, workers: 1, spares: 0 });
  });

  it('evaluates an engine without a spec (a test double) in-process, at once', () => {
    const double: PolicyEngine = { kind: 'rego', revision: 'double', deterministic: true, evaluate: () => ({ action: 'allow', reason: 'double', policies: ['d'], masks: [] }) };
    const result = pool.evaluate(double, input(['agents'], 'SELECT 1', readPatients), 100);
    expect(result).not.toBeInstanceOf(Promise);
    expect(result).toMatchObject({ verdict: { action: 'allow' } });
  });
});
