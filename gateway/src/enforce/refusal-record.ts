// Gatehouse's own refusals of what no policy is asked about (a text over a statement limit, a
// fast-path FunctionCall): a "statement" record with decision deny, written before the answer, and
// the refusal stamped with the record's decision id.

import { GatehouseError, isGatehouseError } from '../errors.ts';
import type { DecisionContext } from './decision-context.ts';
import { currentEngineOrNull, stamp, type QueryDecision } from './decided-statement.ts';
import { auditStatements } from './statement-audit.ts';

/** A refusal: the statements recorded and the error the client sees. */
export type Refusal = Extract<QueryDecision, { kind: 'refuse' }>;

/**
 * Audits `text` as refused by Gatehouse for `error` (`policies`: the ids that say why, empty for a
 * limit) and returns the refusal. If the record cannot be written, the refusal says so and has no statement.
 */
export function recordedRefusal(ctx: DecisionContext, text: string, error: GatehouseError, policies: string[]): Refusal {
  const statement = {
    text,
    parsed: null,
    input: null,
    decision: stamp({ action: 'deny', reason: error.message, policies, masks: [] }, currentEngineOrNull(ctx), 0),
  };
  try {
    auditStatements(ctx, [statement]);
  } catch (e) {
    return { kind: 'refuse', statements: [], error: isGatehouseError(e) ? e : error };
  }
  const stamped = new GatehouseError(error.code, error.message, {
    ...(error.hint !== undefined ? { hint: error.hint } : {}),
    decisionId: statement.decision.id,
    detail: `decision ${statement.decision.id}`,
  });
  return { kind: 'refuse', statements: [statement], error: stamped };
}
