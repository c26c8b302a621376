// A policy evaluator that decides in-process like the gateway's own, but answers statements whose
// text contains "held_" only when the test releases them: a decision that arrives later.

import { DecisionCache } from '../../src/enforce/decision-cache.ts';
import { evaluateWithBudget, type BudgetedVerdict, type PolicyEvaluator } from '../../src/policy/evaluate.ts';

export class HeldEvaluator implements PolicyEvaluator {
  private readonly waiting: Array<() => void> = [];
  private readonly arrivals: Array<() => void> = [];

  evaluate(...args: Parameters<PolicyEvaluator['evaluate']>): BudgetedVerdict | Promise<BudgetedVerdict> {
    const verdict = evaluateWithBudget(...args);
    if (!args[1].statement.text.includes('held_')) return verdict;
    return new Promise((resolve) => {
      this.waiting.push(() => resolve(verdict));
      this.arrivals.shift()?.();
    });
  }

  /** Resolves once `count` held evaluations are waiting. */
  async held(count: number): Promise<void> {
    while (this.waiting.length < count) await new Promise<void>((resolve) => this.arrivals.push(resolve));
  }

  /**
   * A decision cache that keeps nothing: every statement reaches this evaluator, even one whose
   * verdict an earlier statement of the same shape already reached.
   */
  static noCache(): DecisionCache {
    return new DecisionCache({ maxEntries: 0 });
  }

  releaseAll(): void {
    for (const release of this.waiting.splice(0)) release();
  }
}
