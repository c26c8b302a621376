// Admission of the sessions' uncached policy evaluations, per identity, in front of the evaluation
// pool: one identity has at most `perIdentity` evaluations in the pool at once (the rest wait their
// turn in its own queue), so a client sending runaway statements cannot occupy every worker; and
// after an evaluation is stopped over its budget, the same identity's statements of the same shape
// (fingerprint) under the same policy revision are refused without evaluation for a cool-down, so
// repeating it costs neither a budget of CPU nor a worker replacement each time. Nobody else's
// statements are affected: the key holds the identity (red-team round 7, R7-5).

import { EVAL_COOLDOWN_POLICY_ID, type BudgetedVerdict, type PolicyEvaluator } from './evaluate.ts';
import type { PolicyEngine, PolicyInput } from './types.ts';

export interface EvalAdmissionOptions {
  /** Evaluations one identity may have in the pool at once (at least 1). */
  perIdentity: number;
  /** How long an identity's statement shape is refused after one overran its budget, ms (0: never). */
  cooldownMs: number;
  /** Cool-downs remembered at once (the oldest is forgotten first; default 10,000). */
  maxCooldowns?: number;
  now?: () => number;
}

/** Counters for tests and diagnostics. */
export interface EvalAdmissionStats {
  /** Evaluations that waited for an earlier one of the same identity. */
  queued: number;
  /** Statements refused during a cool-down, without evaluation. */
  refusedCoolingDown: number;
  /** Cool-downs remembered now. */
  cooldowns: number;
}

interface Slot {
  running: number;
  waiting: Array<() => void>;
}

export class EvalAdmission implements PolicyEvaluator {
  private readonly slots = new Map<string, Slot>();
  /** Key (revision, identity, shape) → when its cool-down ends; in insertion order, oldest first. */
  private readonly cooldowns = new Map<string, number>();
  private readonly counters = { queued: 0, refusedCoolingDown: 0 };
  private readonly perIdentity: number;
  private readonly maxCooldowns: number;
  private readonly now: () => number;

  constructor(
    private readonly inner: PolicyEvaluator,
    private readonly options: EvalAdmissionOptions,
  ) {
    this.perIdentity = Math.max(1, options.perIdentity);
    this.maxCooldowns = options.maxCooldowns ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  stats(): EvalAdmissionStats {
    return { ...this.counters, cooldowns: this.cooldowns.size };
  }

  evaluate(engine: PolicyEngine, input: PolicyInput, budgetMs: number): BudgetedVerdict | Promise<BudgetedVerdict> {
    const who = `${input.identity.issuer}\u0000${input.identity.subject}`;
    const shape = `${engine.revision}\u0000${who}\u0000${input.statement.fingerprint || input.statement.text}`;
    const refused = this.coolingDown(shape, engine.revision);
    if (refused !== null) return refused;
    let slot = this.slots.get(who);
    if (slot === undefined) this.slots.set(who, (slot = { running: 0, waiting: [] }));
    if (slot.running < this.perIdentity) return this.run(who, slot, shape, engine, input, budgetMs);
    this.counters.queued++;
    const s = slot;
    return new Promise((resolve) => {
      // Its turn: the cool-down is checked again, an earlier statement of its shape may have overrun meanwhile.
      s.waiting.push(() => resolve(this.coolingDown(shape, engine.revision) ?? this.run(who, s, shape, engine, input, budgetMs)));
    });
  }

  private run(who: string, slot: Slot, shape: string, engine: PolicyEngine, input: PolicyInput, budgetMs: number): BudgetedVerdict | Promise<BudgetedVerdict> {
    slot.running++;
    let result: BudgetedVerdict | Promise<BudgetedVerdict>;
    try {
      result = this.inner.evaluate(engine, input, budgetMs);
    } catch (e) {
      this.release(who, slot);
      throw e;
    }
    if (!(result instanceof Promise)) {
      this.release(who, slot);
      this.noteOverrun(shape, result);
      return result;
    }
    return result.then(
      (v) => {
        this.release(who, slot);
        this.noteOverrun(shape, v);
        return v;
      },
      (e: unknown) => {
        this.release(who, slot);
        throw e;
      },
    );
  }

  private release(who: string, slot: Slot): void {
    slot.running--;
    const next = slot.waiting.shift();
    if (next !== undefined) next();
    else if (slot.running === 0) this.slots.delete(who);
  }

  private noteOverrun(shape: string, v: BudgetedVerdict): void {
    if (this.options.cooldownMs <= 0 || v.stopped !== 'budget') return;
    this.cooldowns.delete(shape); // re-inserted as the newest
    this.cooldowns.set(shape, this.now() + this.options.cooldownMs);
    while (this.cooldowns.size > this.maxCooldowns) this.cooldowns.delete(this.cooldowns.keys().next().value!);
  }

  /** The refusal of a shape cooling down, or null (an expired cool-down is forgotten). */
  private coolingDown(shape: string, revision: string): BudgetedVerdict | null {
    const until = this.cooldowns.get(shape);
    if (until === undefined) return null;
    const left = until - this.now();
    if (left <= 0) {
      this.cooldowns.delete(shape);
      return null;
    }
    this.counters.refusedCoolingDown++;
    const reason =
      `the policy evaluation of a statement of the same shape from the same identity was stopped over its budget moments ago, ` +
      `so this shape is refused without evaluation for ${Math.ceil(left / 1000)} more second(s) (policies.eval_cooldown_ms; policy revision ${revision})`;
    return { verdict: { action: 'deny', reason, policies: [EVAL_COOLDOWN_POLICY_ID], masks: [] }, micros: 0, transient: true };
  }
}
