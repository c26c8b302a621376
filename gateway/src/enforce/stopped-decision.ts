// A long string's decision abandoned half-way (the client cancelled, or the session ended: work-slices.ts
// SliceStop): every statement whose record was not written yet is recorded once as stopped, nothing runs.

import { GatehouseError } from '../errors.ts';
import { AnalysisStopped } from '../sql/parser.ts';
import type { ParsedStatement } from '../sql/facts.ts';
import { mapToEnd, SlicesStopped, type SliceStop, type StopReason } from '../work-slices.ts';
import type { DecisionContext } from './decision-context.ts';
import { currentEngineOrNull, stamp, type DecidedStatement, type QueryDecision } from './decided-statement.ts';
import { auditStatements } from './statement-audit.ts';

/** The policy id of a statement recorded without a decision because its string's decision was abandoned. */
export const DECISION_STOPPED_POLICY_ID = 'gatehouse.decision_stopped';

/** The refusal a stopped decision resolves with (the session answered the client already). */
function stoppedError(reason: StopReason, decisionId?: string): GatehouseError {
  return new GatehouseError('QUERY_CANCELED', 'canceling statement due to user request', {
    detail: `Gatehouse stopped deciding this query string (${reason === 'cancelled' ? 'the client cancelled it' : 'the session ended'}); none of it was run.`,
    ...(decisionId !== undefined ? { decisionId } : {}),
  });
}

/**
 * Records (deny, DECISION_STOPPED_POLICY_ID) for statements never decided, written in slices counted on
 * the decision's stop (work-slices.ts mapToEnd); rejects as auditStatements throws.
 */
function recordUndecided(
  ctx: DecisionContext,
  statements: ReadonlyArray<{ text: string; parsed: ParsedStatement | null }>,
  reason: StopReason,
  stop: SliceStop,
): Promise<DecidedStatement[]> {
  const engine = currentEngineOrNull(ctx);
  const why = `not decided: Gatehouse stopped deciding its query string when ${reason === 'cancelled' ? 'the client cancelled it' : 'the session ended'}, so it was not run`;
  const out = statements.map(({ text, parsed }) => ({
    text,
    parsed,
    input: null,
    decision: stamp({ action: 'deny' as const, reason: why, policies: [DECISION_STOPPED_POLICY_ID], masks: [] }, engine, 0),
  }));
  const written = mapToEnd(out.length, (i) => auditStatements(ctx, [out[i]!]), stop);
  return written instanceof Promise ? written.then(() => out) : Promise.resolve(out);
}

/** Stopped while the facts were extracted: every statement recorded as not decided (its text unanalysed). */
export async function stoppedInAnalysis(ctx: DecisionContext, e: AnalysisStopped): Promise<QueryDecision> {
  const statements = await recordUndecided(
    ctx,
    e.texts.map((text) => ({ text, parsed: null })),
    e.reason,
    e.stop,
  );
  return { kind: 'refuse', statements, error: stoppedError(e.reason, statements[0]?.decision.id) };
}

/** Stopped while the statements were evaluated: none has a record yet, all recorded as not decided. */
export async function stoppedInEvaluation(ctx: DecisionContext, parsed: readonly ParsedStatement[], e: SlicesStopped): Promise<QueryDecision> {
  const reason = e.reason;
  const statements = await recordUndecided(
    ctx,
    parsed.map((p) => ({ text: p.text, parsed: p })),
    reason,
    e.stop,
  );
  return { kind: 'refuse', statements, error: stoppedError(reason, statements[0]?.decision.id) };
}

/** Stopped while the records were written: the first `e.done` keep theirs, the rest are recorded as not decided. */
export async function stoppedInAudit(ctx: DecisionContext, statements: readonly DecidedStatement[], e: SlicesStopped): Promise<QueryDecision> {
  const rest = await recordUndecided(ctx, statements.slice(e.done), e.reason, e.stop);
  return { kind: 'refuse', statements: [...statements.slice(0, e.done), ...rest], error: stoppedError(e.reason, statements[0]?.decision.id) };
}
