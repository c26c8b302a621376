// Whether an identity reads anything masked at all, for writes that fire no unreviewed trigger
// function: the policy's answer for a plain SELECT of every relation of the snapshot by that identity
// in that session. The input holds no statement of the client's, so its verdict is cached once per
// identity, policy revision and set of relations, not per statement (enforce/statement-evaluation.ts;
// red-team round 17a, R17a-3: such an identity's writes are checked against the server's catalog).

import { buildPolicyInput } from '../policy/input.ts';
import type { Identity, PolicyInput, SessionInfo } from '../policy/types.ts';
import type { ParsedStatement } from '../sql/facts.ts';
import { analyzeQuery } from '../sql/parser.ts';
import type { Horizon } from './trigger-review.ts';
import { probeInput } from './write-probe.ts';

/** The statement the identity horizon asks about: a SELECT of nothing, to which the relations are added. */
export const HORIZON_SELECT = 'SELECT 1';

let horizonFacts: ParsedStatement['facts'] | null = null;

function facts(): ParsedStatement['facts'] {
  if (horizonFacts !== null) return horizonFacts;
  const parsed = analyzeQuery(HORIZON_SELECT);
  if (!parsed.ok || parsed.statements.length !== 1) throw new Error(`the identity horizon's statement did not parse: ${parsed.ok ? 'not one statement' : parsed.error}`);
  return (horizonFacts = parsed.statements[0]!.facts);
}

const BASES = new WeakMap<Identity, WeakMap<SessionInfo, PolicyInput>>();
const PROBES = new WeakMap<PolicyInput, { horizon: Horizon; input: PolicyInput }>();

/** The identity's SELECT without relations (its cache key is the identity's and the session's, made once per session). */
export function identityHorizonBase(identity: Identity, session: SessionInfo): PolicyInput {
  let bySession = BASES.get(identity);
  if (bySession === undefined) BASES.set(identity, (bySession = new WeakMap()));
  let base = bySession.get(session);
  if (base === undefined) bySession.set(session, (base = buildPolicyInput({ identity, session, text: HORIZON_SELECT, protocol: 'simple', facts: facts() })));
  return base;
}

/** The same SELECT reading every relation of `horizon` (made once per base and horizon). */
export function identityHorizonInput(base: PolicyInput, horizon: Horizon): PolicyInput {
  const known = PROBES.get(base);
  if (known !== undefined && known.horizon === horizon) return known.input;
  const input = probeInput(base, horizon.tables);
  PROBES.set(base, { horizon, input });
  return input;
}
