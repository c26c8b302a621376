// Warms a policy engine (compiles its WASM) with throwaway inputs before the first client statement.

import { buildPolicyInput } from '../policy/input.ts';
import type { Identity, PolicyEngine, PolicyInput, SessionInfo } from '../policy/types.ts';
import { analyzeQuery } from '../sql/parser.ts';

/** Throwaway inputs that compile and warm an engine's WASM before the first client statement. */
export function warmUpInputs(): PolicyInput[] {
  const identity: Identity = { subject: 'gatehouse-warm-up', issuer: 'gatehouse', groups: [], roles: [], name: null };
  const session: SessionInfo = { id: 'warm-up', clientAddress: '', applicationName: '', database: 'postgres', user: '', tls: false };
  const inputs: PolicyInput[] = [];
  for (const text of ['SELECT 1', 'SELECT id FROM public.t WHERE id = 1', 'DROP TABLE public.t']) {
    const parsed = analyzeQuery(text);
    if (!parsed.ok) continue;
    for (const p of parsed.statements) inputs.push(buildPolicyInput({ identity, session, text: p.text, protocol: 'simple', facts: p.facts }));
  }
  return inputs;
}

/**
 * Runs a few throwaway evaluations so the engine's WASM is compiled and warm before the first
 * client statement (a cold first evaluation can take longer than the evaluation budget). Only for
 * an engine that passed the budget gate (policy/budget-gate.ts): this runs on the calling thread.
 */
export function warmUpEngine(engine: PolicyEngine): void {
  for (const input of warmUpInputs()) {
    for (let i = 0; i < 3; i++) engine.evaluate(input);
  }
}
