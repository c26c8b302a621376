// Deciding a statement's text for a session and admitting it to run upstream: the statement limits
// first (pg/statement-limits.ts), then the decision point, then the checks every statement passes
// after its decision (search path known, cursor names not reserved). The same for Query, Parse and
// Execute. Failures to decide become refusals (fail closed).

import type { DecisionContext, DecidedStatement, QueryDecision } from '../enforce/decision-point.ts';
import { decideQuery } from '../enforce/decision-point.ts';
import type { FunctionPin } from '../enforce/function-pins.ts';
import type { LockPrefix } from '../enforce/lock-prefix.ts';
import type { BoundParameters } from '../enforce/setting-guard.ts';
import { recordedRefusal } from '../enforce/refusal-record.ts';
import { GatehouseError, isGatehouseError } from '../errors.ts';
import type { MaskRule } from '../policy/types.ts';
import { cursorsDeclared } from './cursor-names.ts';
import type { SearchPathTracker } from './search-path-tracker.ts';
import type { RevisionFence } from './revision-fence.ts';
import { auditedLimitText, statementLimitError, type StatementLimits } from './statement-limits.ts';
import type { SliceStop } from '../work-slices.ts';

/** A statement admitted to run upstream, or why not (pathUnknown: the search path must be probed again). */
export type Admission =
  | { kind: 'refuse'; statements: DecidedStatement[]; error: GatehouseError; pathUnknown: boolean }
  | { kind: 'forward'; statements: DecidedStatement[]; masks: MaskRule[]; cursors: string[]; forwardText: string | null; lockPrefix: LockPrefix | null; functionPins?: FunctionPin[] };

/** What deciding needs of the session. */
export interface DecidingDeps {
  decision: DecisionContext;
  limits: StatementLimits;
}

/** A decision that could not be made (an unexpected throw or rejection): the statement is refused. */
function undecided(e: unknown): QueryDecision {
  const error = isGatehouseError(e)
    ? e
    : new GatehouseError('POLICY_ENGINE_FAILED', 'Gatehouse could not decide this statement, so it was not run', { cause: e });
  return { kind: 'refuse', statements: [], error };
}

/** The refusal of a statement whose decision the client cancelled (CancelRequest) before it came. */
export function cancelledWait(): GatehouseError {
  return new GatehouseError('QUERY_CANCELED', 'canceling statement due to user request', {
    detail: 'The statement was cancelled while Gatehouse was still deciding it; it was not run.',
  });
}

/**
 * The decision for `text`: now when the decision point has it at once (cached), else to come; never rejects.
 * `stop`: the decision's stop signal, set when the session abandons it (pg/decision-wait.ts).
 * `ownLocksUpstream`: an Execute whose own Parse or Bind already went up in the open transaction
 * (pg/approval-exposure.ts): refused rather than held for approval.
 */
export function decideText(
  deps: DecidingDeps,
  text: string,
  protocol: 'simple' | 'extended',
  auditForwarded = true,
  parameters: BoundParameters = [],
  discarded = false,
  stop?: SliceStop,
  ownLocksUpstream = false,
): QueryDecision | Promise<QueryDecision> {
  const limited = statementLimitError(text, protocol, deps.limits);
  if (limited !== null) return limitRefused(deps.decision, text, limited);
  try {
    const d = decideQuery(deps.decision, text, protocol, { auditForwarded, parameters, discarded, ...(stop ? { stop } : {}), ...(ownLocksUpstream ? { ownLocksUpstream } : {}) });
    return d instanceof Promise ? d.catch(undecided) : d;
  } catch (e) {
    return undecided(e);
  }
}

/** A text refused by a limit, audited (its first characters: pg/statement-limits.ts). */
export function limitRefused(decision: DecisionContext, text: string, limited: GatehouseError): QueryDecision {
  return recordedRefusal(decision, auditedLimitText(text), limited, []);
}

/**
 * The checks every decided statement passes before it is forwarded, the same for Query, Parse and
 * Execute: its unqualified names can be resolved (search path known), the cursor names it uses
 * are not Gatehouse's reserved ones, and no transaction or cursor it reads began under another policy revision.
 */
export function admit(d: QueryDecision, searchPath: Pick<SearchPathTracker, 'unresolved'>, fence: Pick<RevisionFence, 'refusal'>): Admission {
  if (d.kind === 'refuse') return { kind: 'refuse', statements: d.statements, error: d.error, pathUnknown: false };
  const unresolved = searchPath.unresolved(d.statements);
  if (unresolved !== null) return { kind: 'refuse', statements: d.statements, error: unresolved, pathUnknown: true };
  const cursors = cursorsDeclared(d.statements);
  if (cursors instanceof GatehouseError) return { kind: 'refuse', statements: d.statements, error: cursors, pathUnknown: false };
  // A transaction or cursor begun under an older policy revision (pg/revision-fence.ts).
  const stale = fence.refusal(d.statements);
  if (stale !== null) return { kind: 'refuse', statements: d.statements, error: stale, pathUnknown: false };
  return { kind: 'forward', statements: d.statements, masks: d.masks, cursors, forwardText: d.forwardText, lockPrefix: d.lockPrefix, ...(d.functionPins !== undefined ? { functionPins: d.functionPins } : {}) };
}
