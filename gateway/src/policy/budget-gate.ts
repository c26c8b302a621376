// Gated activation's speed check: a candidate policy is evaluated over the repository's test inputs,
// the warm-up inputs and a sample of recorded inputs (recent statements from the audit log, where
// configured) in the evaluation pool, each within the evaluation budget, before any evaluation of it
// runs on the main thread; one that overruns refuses the commit.

import { EVAL_BUDGET_POLICY_ID, isBudgetDeny, type PolicyEvaluator } from './evaluate.ts';
import { loadCaseDirectory } from './testing/cases.ts';
import { evaluationFor } from './testing/case-input.ts';
import type { PolicyEngine, PolicyInput } from './types.ts';

export interface BudgetCheck {
  evaluator: PolicyEvaluator;
  budgetMs: number;
  /**
   * Recorded inputs to time the candidate on as well (policies.activation_sample recent distinct
   * statements of the audit log), read at each activation. It reports its own failures (the check
   * then goes on with the test inputs).
   */
  recorded?: () => Promise<RecordedBudgetInput[]>;
  /** The policy serving now (null before the first one): a recorded input it overruns too does not refuse a candidate. */
  current?: () => PolicyEngine | null;
  /** Where notes about recorded inputs passed over go (the gateway's log). */
  note?: (message: string) => void;
}

export interface RecordedBudgetInput {
  name: string;
  input: PolicyInput;
  /** The policies the audit record names as deciding it (EVAL_BUDGET_POLICY_ID or EVAL_COOLDOWN_POLICY_ID when it was refused over the budget then). */
  decidedBy: readonly string[];
}

/**
 * The recorded inputs of a check (none when it has no source or they cannot be read). Agents choose
 * what gets recorded: an input that overran the budget when it was served, or was refused in a cool-down after that (denied 57014), is passed
 * over, else a statement crafted to be slow for any policy would refuse every later commit (and,
 * at startup, the gateway itself).
 */
export async function recordedInputs(check: BudgetCheck): Promise<RecordedBudgetInput[]> {
  const all = check.recorded === undefined ? [] : await check.recorded().catch(() => []);
  const usable = all.filter((r) => !isBudgetDeny(r.decidedBy));
  if (usable.length < all.length) {
    check.note?.(`policy: ${all.length - usable.length} recorded statement(s) that overran the evaluation budget when served are not used to time new policies`);
  }
  return usable;
}

/**
 * Times `candidate` on the recorded inputs. One it overruns refuses it only when the policy serving
 * now evaluates that input within the budget (a real slowdown); when the serving policy overruns it as
 * well, or nothing serves yet (startup), it is passed over with a note: an input slow for any policy
 * must not block policy rollout.
 */
export async function checkRecordedInputs(check: BudgetCheck, candidate: PolicyEngine, inputs: readonly RecordedBudgetInput[]): Promise<BudgetGateResult> {
  let evaluations = 0;
  for (const r of inputs) {
    const gate = await checkEvaluationBudget(check, candidate, [r]);
    evaluations++;
    if (gate.ok) continue;
    const current = check.current?.() ?? null;
    const first = current === null || current === candidate;
    if (!first && (await checkEvaluationBudget(check, current, [r])).ok) return gate;
    check.note?.(`policy: WARNING: ${r.name} overran the evaluation budget under ${first ? 'the first policy (nothing served yet)' : 'the serving policy too'}; not counted against the new policy`);
  }
  return { ok: true, evaluations };
}

export type BudgetGateResult = { ok: true; evaluations: number } | { ok: false; reason: string };

/** Evaluates `inputs` one after another; stops at the first that overruns or crashes its worker. */
export async function checkEvaluationBudget(check: BudgetCheck, engine: PolicyEngine, inputs: readonly { name: string; input: PolicyInput }[]): Promise<BudgetGateResult> {
  for (const { name, input } of inputs) {
    const { verdict, stopped } = await check.evaluator.evaluate(engine, input, check.budgetMs);
    if (stopped !== undefined || verdict.policies[0] === EVAL_BUDGET_POLICY_ID) {
      return {
        ok: false,
        reason: `evaluation over budget: on ${name}, ${verdict.reason}; every evaluation must finish within policies.eval_timeout_ms (${check.budgetMs} ms of CPU time)`,
      };
    }
  }
  return { ok: true, evaluations: inputs.length };
}

/**
 * The policy inputs of a case directory's cases (cases that cannot be evaluated as written are left
 * to the policy tests to report). Needs loadSqlParser() to have resolved.
 */
export async function caseInputs(casesDir: string, root: string): Promise<Array<{ name: string; input: PolicyInput }>> {
  const files = await loadCaseDirectory(casesDir, root);
  const inputs: Array<{ name: string; input: PolicyInput }> = [];
  for (const c of files.flatMap((f) => f.cases)) {
    try {
      const e = evaluationFor(c);
      if (e.type === 'input') inputs.push({ name: `case "${c.name}" (${c.file})`, input: e.input });
    } catch {
      // reported by the policy tests
    }
  }
  return inputs;
}
