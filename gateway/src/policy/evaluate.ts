// Evaluation with a time budget. The WASM engines are synchronous, so a runaway evaluation cannot be
// interrupted in-process: one that overran its budget is measured and its verdict replaced by deny.

import { engineErrorVerdict } from './combine.ts';
import type { EngineVerdict, PolicyEngine, PolicyInput } from './types.ts';

export interface BudgetedVerdict {
  verdict: EngineVerdict;
  /** Wall-clock evaluation time in microseconds. */
  micros: number;
  /** The verdict is a deny because the engine threw or ran over budget: do not reuse it. */
  transient: boolean;
  /** The evaluation was cut off (eval-pool.ts): over its budget, or its worker failed (e.g. out of memory). */
  stopped?: 'budget' | 'crashed';
}

/** The policy id an over-budget deny names (enforce/decision-point.ts turns it into its own error). */
export const EVAL_BUDGET_POLICY_ID = 'gatehouse.evaluation_budget';

/**
 * The policy id of a deny without evaluation: the same identity's statement of the same shape was
 * stopped over its budget moments ago (policy/eval-admission.ts).
 */
export const EVAL_COOLDOWN_POLICY_ID = 'gatehouse.evaluation_cooldown';

/** Whether a deny comes from the evaluation budget: stopped over it, or refused in a cool-down after it. */
export function isBudgetDeny(policies: readonly string[]): boolean {
  return policies.includes(EVAL_BUDGET_POLICY_ID) || policies.includes(EVAL_COOLDOWN_POLICY_ID);
}

/** Where and how evaluations run: in-process (below) or in worker threads (eval-pool.ts). */
export interface PolicyEvaluator {
  /** The verdict now, or to come when evaluated elsewhere; never rejects for a policy problem. */
  evaluate(engine: PolicyEngine, input: PolicyInput, budgetMs: number): BudgetedVerdict | Promise<BudgetedVerdict>;
}

/** Evaluates on the calling thread: the budget is checked only after the evaluation returns. */
export const inlineEvaluator: PolicyEvaluator = { evaluate: evaluateWithBudget };

export function evaluateWithBudget(engine: PolicyEngine, input: PolicyInput, timeoutMs: number): BudgetedVerdict {
  const start = process.hrtime.bigint();
  let verdict: EngineVerdict;
  let transient = false;
  try {
    verdict = engine.evaluate(input);
  } catch (e) {
    // The contract says engines never throw; fail closed if one does.
    verdict = engineErrorVerdict(e instanceof Error ? e.message : String(e));
    transient = true;
  }
  const micros = Number((process.hrtime.bigint() - start) / 1000n);
  if (micros > timeoutMs * 1000) {
    const masks = verdict.masks;
    verdict = engineErrorVerdict(`evaluation took ${(micros / 1000).toFixed(1)} ms, over the ${timeoutMs} ms budget`);
    verdict.masks = masks;
    transient = true;
  }
  return { verdict, micros, transient };
}
