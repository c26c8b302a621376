// What the decision point asks of approvals (implemented in approvals/statement-gate.ts): hold the
// statements of one query string that a policy decided `approve` until they are answered, and say
// whether they may run.

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

/** For a whole query string: every statement approved (one note each, in order), or the first refusal. */
export type GateOutcome = { kind: 'approved'; notes: string[] } | { kind: 'refused'; error: GatehouseError };

export interface ApprovalGate {
  /**
   * Holds these statements (all of one query string) together: none opens a request when another
   * is refused before asking, and once one is refused the others' requests are withdrawn.
   */
  hold(statements: readonly HeldStatementInfo[]): Promise<GateOutcome>;
}

/** Parse decides without bound values: approval waits for the Execute that has them. */
export function isParseTime(parameters: BoundParameters | undefined): boolean {
  return parameters === 'unbound';
}
