import { describe, expect, it } from 'vitest';
import { checkRecordedInputs, recordedInputs, type BudgetCheck, type RecordedBudgetInput } from './budget-gate.ts';
import { EVAL_BUDGET_POLICY_ID, type PolicyEvaluator } from './evaluate.ts';
import type { PolicyEngine, PolicyInput } from './types.ts';

// Engines that overrun the inputs whose statement text they name: what the evaluation pool reports.
const engine = (revision: string): PolicyEngine => ({ kind: 'rego', revision }) as unknown as PolicyEngine;
const input = (text: string): PolicyInput => ({ statement: { text } }) as unknown as PolicyInput;
const recorded = (text: string, decidedBy: string[] = ['gatehouse.allow']): RecordedBudgetInput => ({ name: `recorded ${text}`, input: input(text), decidedBy });

function check(slow: Record<string, string[]>, current: PolicyEngine | null, notes: string[], inputs: RecordedBudgetInput[] = []): BudgetCheck {
  const evaluator: PolicyEvaluator = {
    evaluate: (e, i) =>
      (slow[e.revision] ?? []).includes(i.statement.text)
        ? { verdict: { action: 'deny', reason: 'over budget', policies: [EVAL_BUDGET_POLICY_ID], masks: [] }, micros: 0, transient: true, stopped: 'budget' }
        : { verdict: { action: 'allow', reason: '', policies: [], masks: [] }, micros: 0, transient: false },
  };
  return { evaluator, budgetMs: 100, current: () => current, note: (m) => notes.push(m), recorded: async () => inputs };
}

describe('recorded inputs in gated activation (R9-1)', () => {
  const serving = engine('serving');
  const candidate = engine('candidate');

  it('refuses a candidate that overruns a recorded input the serving policy evaluates in time', async () => {
    const notes: string[] = [];
    const result = await checkRecordedInputs(check({ candidate: ['a'] }, serving, notes), candidate, [recorded('a')]);
    expect(result).toMatchObject({ ok: false });
    expect(notes).toEqual([]);
  });

  it('passes over, with a note, a recorded input the serving policy overruns too', async () => {
    const notes: string[] = [];
    const result = await checkRecordedInputs(check({ candidate: ['a'], serving: ['a'] }, serving, notes), candidate, [recorded('a'), recorded('b')]);
    expect(result).toEqual({ ok: true, evaluations: 2 });
    expect(notes).toHaveLength(1);
  });

  it('passes over, with a note, a recorded input the first policy overruns (nothing serves yet)', async () => {
    const notes: string[] = [];
    expect(await checkRecordedInputs(check({ candidate: ['a'] }, null, notes), candidate, [recorded('a')])).toMatchObject({ ok: true });
    expect(notes).toHaveLength(1);
  });

  it('leaves out recorded statements that overran the budget when served', async () => {
    const notes: string[] = [];
    const c = check({}, serving, notes, [recorded('a', [EVAL_BUDGET_POLICY_ID]), recorded('b')]);
    expect((await recordedInputs(c)).map((r) => r.input.statement.text)).toEqual(['b']);
    expect(notes).toHaveLength(1);
  });
});
