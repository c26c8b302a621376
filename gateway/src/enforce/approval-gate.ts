// What the decision point asks of approvals (implemented in approvals/statement-gate.ts): hold one
// statement a policy decided `approve` until it is answered, and say whether it may run.

import type { GatehouseError } from '../errors.ts';
import type { Decision, PolicyInput } from '../policy/types.ts';
import type { BoundParameters } from './setting-guard.ts';

export interface HeldStatementInfo {
  decision: Decision;
  /** The policy input of the statement (null only for statements Gatehouse could not parse, never held). */
  input: PolicyInput | null;
  /** This statement's text. */
  text: string;
  /** The whole query string as the client sent it (comments included: the requester's reason may be there). */
  queryText: string;
  protocol: 'simple' | 'extended';
  /** Bound values of an Execute; [] for a simple query. */
  parameters: readonly (Buffer | null)[];
}

export type GateAnswer =
  /** Approved (by answers or a grant): run it, masks still applying; `note` is added to the decision's reason. */
  | { kind: 'approved'; note: string }
  | { kind: 'refused'; error: GatehouseError };

export interface ApprovalGate {
  hold(statement: HeldStatementInfo): Promise<GateAnswer>;
}

/** Parse decides without bound values: approval waits for the Execute that has them. */
export function isParseTime(parameters: BoundParameters | undefined): boolean {
  return parameters === 'unbound';
}
