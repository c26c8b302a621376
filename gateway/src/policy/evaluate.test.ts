import { describe, expect, it } from 'vitest';
import { evaluateWithBudget } from './evaluate.ts';
import { facts, input } from './example-inputs.ts';
import type { EngineVerdict, PolicyEngine } from './types.ts';

const ALLOW: EngineVerdict = { action: 'allow', reason: 'ok', policies: ['p'], masks: [] };

function engine(evaluate: () => EngineVerdict): PolicyEngine {
  return { kind: 'rego', revision: 'test', deterministic: true, evaluate };
}

function busyWait(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // spin: stands in for a synchronous WASM evaluation that runs long
  }
}

const INPUT = input(['agents'], 'SELECT 1', facts('select', 'SelectStmt'));

describe('evaluateWithBudget', () => {
  it('returns the verdict and the time it took', () => {
    const { verdict, micros } = evaluateWithBudget(engine(() => ALLOW), INPUT, 50);
    expect(verdict).toEqual(ALLOW);
    expect(micros).toBeGreaterThanOrEqual(0);
    expect(micros).toBeLessThan(50_000);
  });

  it('denies an evaluation that overran its budget', () => {
    const { verdict, micros } = evaluateWithBudget(
      engine(() => {
        busyWait(15);
        return ALLOW;
      }),
      INPUT,
      5,
    );
    expect(micros).toBeGreaterThanOrEqual(5_000);
    expect(verdict.action).toBe('deny');
    expect(verdict.reason).toMatch(/^policy engine error: evaluation took .* over the 5 ms budget$/);
  });

  it('denies when an engine throws despite its contract', () => {
    const { verdict } = evaluateWithBudget(
      engine(() => {
        throw new Error('boom');
      }),
      INPUT,
      50,
    );
    expect(verdict).toMatchObject({ action: 'deny', reason: 'policy engine error: boom' });
  });
});
