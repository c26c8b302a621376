// A fast-path FunctionCall ('F': libpq's PQfn, which its lo_* large-object functions use) calls a
// function by OID past SQL analysis, so Gatehouse refuses every one (0A000). It is an attempt like any
// statement: recorded (deny, policy gatehouse.fast_path) with a refused outcome, and answered as
// PostgreSQL answers a FunctionCall that fails: ErrorResponse, then ReadyForQuery at once.

import { fastPathStatementText } from '../audit/fast-path-text.ts';
import { recordedRefusal } from '../enforce/refusal-record.ts';
import { GatehouseError } from '../errors.ts';
import { refuseFunctionCall } from './session-refusals.ts';
import type { DecisionsHost } from './statement-decisions.ts';

/** The policy id of a refused FunctionCall's record. */
export const FAST_PATH_POLICY_ID = 'gatehouse.fast_path';

/** A FunctionCall message: refused, as it bypasses SQL analysis. */
export function fastPathRefused(): GatehouseError {
  return new GatehouseError('FEATURE_NOT_SUPPORTED', 'Gatehouse does not allow fast-path function calls: they bypass SQL analysis', {
    hint: 'Call the function from a SQL statement instead (for large objects: SELECT lo_get(...)).',
  });
}

/**
 * Refuses a FunctionCall of function `oid`: recorded with a refused outcome, then answered in order
 * (pg/session-refusals.ts refuseFunctionCall), or not answered when `discarded` (an earlier message of its
 * extended batch failed, so PostgreSQL would skip it until Sync).
 */
export function refuseFastPathCall(s: DecisionsHost, oid: number, discarded: boolean): void {
  const refused = recordedRefusal(s.deps.decision, fastPathStatementText(oid), fastPathRefused(), [FAST_PATH_POLICY_ID]);
  s.recordRefused(refused.statements, refused.error);
  if (!discarded) refuseFunctionCall(s, refused.error);
}
