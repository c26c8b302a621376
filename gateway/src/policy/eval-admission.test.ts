import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EvalAdmission } from './eval-admission.ts';
import { EvalPool } from './eval-pool.ts';
import { EVAL_COOLDOWN_POLICY_ID, type BudgetedVerdict } from './evaluate.ts';
import { input, readPatients } from './example-inputs.ts';
import { loadPolicyEngine } from './load.ts';
import type { PolicyEngine, PolicyInput } from './types.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
/** The repository's Rego policies plus a rule that loops for statements carrying a marker. */
const LOOPING_RULE = `package gatehouse

deny contains {"id": "slow", "reason": "never reached in time"} if {
	contains(input.statement.text, "admission_slow_marker")
	count([1 | some a in numbers.range(1, 20000); some b in numbers.range(1, 20000); a * b == -1]) == 0
}
`;
let looping: PolicyEngine;
const pool = new EvalPool({ workers: 2 });

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-admission-looping-'));
  cpSync(join(ROOT, 'policies/rego'), dir, { recursive: true });
  rmSync(join(dir, 'gatehouse_test.rego'), { force: true });
  writeFileSync(join(dir, 'slow.rego'), LOOPING_RULE);
  looping = await loadPolicyEngine({ engine: 'rego', directory: dir, buildDir: mkdtempSync(join(tmpdir(), 'gatehouse-admission-build-')) });
});
afterAll(() => pool.close());

/** A statement of `subject`, of the shape `fingerprint`. */
function statement(subject: string, text: string, fingerprint: string): PolicyInput {
  const i = input(['agents'], text, readPatients);
  return { ...i, identity: { ...i.identity, subject }, statement: { ...i.statement, fingerprint } };
}

const slow = (subject: string, fingerprint = 'shape-slow'): PolicyInput => statement(subject, "SELECT 'admission_slow_marker'", fingerprint);
const ordinary = (subject: string, fingerprint = 'shape-slow'): PolicyInput => statement(subject, "SELECT 'harmless'", fingerprint);

describe('EvalAdmission', () => {
  it('refuses an identity’s shape that just overran, without evaluating it, and nobody else’s', async () => {
    let now = 1_000_000;
    const admission = new EvalAdmission(pool, { perIdentity: 1, cooldownMs: 10_000, now: () => now });
    const first = await admission.evaluate(looping, slow('mallory'), 50);
    expect(first.stopped).toBe('budget');
    const replaced = pool.stats().promoted;

    // The same identity and shape, even with other literals: refused at once, no worker replaced.
    const again = await admission.evaluate(looping, ordinary('mallory'), 50);
    expect(again.verdict.action).toBe('deny');
    expect(again.verdict.policies).toEqual([EVAL_COOLDOWN_POLICY_ID]);
    expect(again.verdict.reason).toContain('policies.eval_cooldown_ms');
    expect(again.transient).toBe(true);
    expect(pool.stats().promoted).toBe(replaced);
    expect(admission.stats().refusedCoolingDown).toBe(1);

    // Another shape of the same identity, and the same shape of another identity, are evaluated.
    expect((await admission.evaluate(looping, ordinary('mallory', 'shape-other'), 5000)).verdict.policies).not.toContain(EVAL_COOLDOWN_POLICY_ID);
    expect((await admission.evaluate(looping, ordinary('alice'), 5000)).verdict).toEqual(looping.evaluate(ordinary('alice')));

    // Once the cool-down is over, the shape is evaluated again.
    now += 10_001;
    const later = await admission.evaluate(looping, ordinary('mallory'), 5000);
    expect(later.verdict).toEqual(looping.evaluate(ordinary('mallory')));
    expect(admission.stats().cooldowns).toBe(0);
  });

  it('lets one identity hold one worker at a time: another identity is evaluated while its runaways wait', async () => {
    const admission = new EvalAdmission(pool, { perIdentity: 1, cooldownMs: 0 });
    const settled: string[] = [];
    const track = (name: string, p: BudgetedVerdict | Promise<BudgetedVerdict>): Promise<BudgetedVerdict> =>
      Promise.resolve(p).then((v) => {
        settled.push(name);
        return v;
      });
    // Two runaways of two shapes (a budget hundreds of times an ordinary evaluation), then an
    // ordinary statement of someone else.
    const a = track('mallory-1', admission.evaluate(looping, slow('mallory', 'shape-a'), 300));
    const b = track('mallory-2', admission.evaluate(looping, slow('mallory', 'shape-b'), 300));
    const c = await track('alice', admission.evaluate(looping, ordinary('alice'), 5000));
    expect(c.verdict).toEqual(looping.evaluate(ordinary('alice')));
    // Alice's statement did not wait for either runaway: mallory's second was still queued behind its first.
    expect(settled).toEqual(['alice']);
    expect(admission.stats().queued).toBe(1);
    expect((await a).stopped).toBe('budget');
    expect((await b).stopped).toBe('budget');
    expect(settled).toEqual(['alice', 'mallory-1', 'mallory-2']);
  }, 120_000);
});
