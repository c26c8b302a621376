// Outcome records: the second half of a statement's audit trail (audit/types.ts), written after it
// ran, failed, was refused or was aborted. They repeat who and which policy revision, so an auditor
// needs no join.

import { AUDIT_RECORD_VERSION, type AuditRecord, type StatementOutcome } from '../audit/types.ts';
import type { SubjectsRecord } from '../audit/subjects.ts';
import { recordTime } from '../audit/record-time.ts';
import type { DecisionContext } from '../enforce/decision-context.ts';
import type { DetectionCounts } from '../enforce/content-detectors.ts';
import type { GatehouseError } from '../errors.ts';
import type { Decision } from '../policy/types.ts';
import { identityPart } from '../policy/input-parts.ts';

export type OutcomeRecord = Extract<AuditRecord, { type: 'outcome' }>;

/** The outcome record of one decided statement of the session `ctx` decides for. */
export function outcomeRecord(
  ctx: Pick<DecisionContext, 'session' | 'identity'>,
  decision: Pick<Decision, 'id' | 'revision'>,
  outcome: StatementOutcome,
  detected: DetectionCounts = {},
  subjects: SubjectsRecord | null = null,
): OutcomeRecord {
  // Optional fields added after, not spread in (V8's slow path); the identity is the session's frozen part.
  const record: OutcomeRecord = {
    v: AUDIT_RECORD_VERSION,
    type: 'outcome',
    time: recordTime(),
    decision_id: decision.id,
    session_id: ctx.session.id,
    identity: identityPart(ctx.identity),
    revision: decision.revision,
    outcome,
  };
  if (Object.keys(detected).length > 0) record.detected = { ...detected };
  if (subjects !== null) record.subjects = subjects;
  return record;
}

/** The outcome of a statement that did not run: refused with `error`'s SQLSTATE (and `reason`), or aborted. */
export function notRunOutcome(error: GatehouseError, status: 'refused' | 'aborted', reason?: string): StatementOutcome {
  if (status === 'aborted') return { status };
  return reason === undefined ? { status, sqlstate: error.sqlstate } : { status, sqlstate: error.sqlstate, reason };
}
