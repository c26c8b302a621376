// A statement with its decision, the decision for a whole query string, and how decisions are stamped.

import type { GatehouseError } from '../errors.ts';
import type { Decision, EngineVerdict, MaskRule, PolicyEngine, PolicyInput } from '../policy/types.ts';
import type { ParsedStatement } from '../sql/facts.ts';
import type { AppliedMask } from './mask-applied.ts';
import type { LockPrefix } from './lock-prefix.ts';
import type { ReadProbe } from './write-probe.ts';
import type { SubjectPlan } from './hidden-subjects.ts';
import type { TriggerReview } from './trigger-review.ts';
import type { DecisionContext } from './decision-context.ts';
import { decisionId } from './decision-id.ts';

/** One statement of a query string with its decision. */
export interface DecidedStatement {
  text: string;
  parsed: ParsedStatement | null;
  input: PolicyInput | null;
  decision: Decision;
  /** The statement as forwarded when masks rewrote it (enforce/mask-rewrite.ts), else null. */
  forwarded?: string | null;
  /**
   * For a `mask` decision that is forwarded: the masks the statement applies (enforce/mask-applied.ts),
   * empty when it reads no masked column. Absent: not known (the statement was not forwarded).
   */
  applied?: AppliedMask[];
  /**
   * The statement writes, or reaches through a foreign key or its action, a table with columns masked
   * for the identity (or one it may not read), which PostgreSQL touches raw (a write's target is never
   * rewritten, enforce/write-target.ts), whatever the decision: the detail, context and internal query
   * of its errors and notices ("Failing row contains (...)", "Key (c)=(...) conflicts with existing key
   * (c)=(...)"), and routine-raised messages, may quote stored values, so they are withheld until its
   * transaction ends (enforce/write-probe.ts, pg/upstream-relay.ts).
   */
  writesMaskedTable?: boolean;
  /** Decided `approve` at Parse, where nothing waits: its Execute is held for the approval (enforce/approval-hold.ts). */
  approvalAtExecute?: boolean;
  /** For a write: how the identity reads the tables it touches without reading them (enforce/write-probe.ts). */
  probe?: ReadProbe;
  /** For a write: the trigger functions nobody vouches for, and whether the identity is under a mask (enforce/trigger-review.ts, enforce/fresh-catalog.ts). */
  triggerReview?: TriggerReview;
  /** For a forwarded statement that reads or writes a PHI table: how its rows' subjects are recorded (enforce/subject-columns.ts). */
  subjects?: SubjectPlan | null;
}

/** The decision for a whole query string (one or several statements). */
export type QueryDecision =
  /**
   * `forwardText`: the query string to send upstream in place of the client's (masks at the source), or
   * null to send it as it is. `lockPrefix`: for a simple Query, the LOCK statements to send ahead of it
   * (enforce/lock-prefix.ts), or null. `functionPins`: for a simple Query, the trigger functions its writes
   * under a mask rely on, checked after them in their transaction (enforce/function-pins.ts); absent: none.
   */
  | { kind: 'forward'; statements: DecidedStatement[]; masks: MaskRule[]; forwardText: string | null; lockPrefix: LockPrefix | null; functionPins?: FunctionPin[] }
  | { kind: 'refuse'; statements: DecidedStatement[]; error: GatehouseError };

/**
 * Every field of EngineVerdict, as stamp() copies it: tsc fails here when EngineVerdict gains a field,
 * and decided-statement.test.ts checks that stamp() copies each one listed.
 */
export const VERDICT_FIELDS = {
  action: true,
  reason: true,
  policies: true,
  masks: true,
  detections: true,
  approval: true,
  reviewed: true,
} as const satisfies Record<keyof EngineVerdict, true>;

/**
 * The verdict's fields copied one by one into a new object, not `{ ...verdict, id, ... }` (on Node 20's
 * V8 a spread followed by further properties takes a slow path, about 10 µs per statement) nor
 * Object.assign (a generic copy, a sixth of a cached decision's time): one literal of one shape, and the
 * optional fields only when the verdict has them.
 */
export function stamp(verdict: EngineVerdict, engine: PolicyEngine | null, micros: number): Decision {
  const d: Decision = {
    action: verdict.action,
    reason: verdict.reason,
    policies: verdict.policies,
    masks: verdict.masks,
    id: decisionId(),
    engine: engine?.kind ?? 'rego',
    revision: engine?.revision ?? 'none',
    evalMicros: micros,
  };
  if (verdict.detections !== undefined) d.detections = verdict.detections;
  if (verdict.approval !== undefined) d.approval = verdict.approval;
  if (verdict.reviewed !== undefined) d.reviewed = verdict.reviewed;
  return d;
}

/** The engine for stamping a decision made without it (its revision is still recorded). */
export function currentEngineOrNull(ctx: Pick<DecisionContext, 'engines'>): PolicyEngine | null {
  try {
    return ctx.engines.current();
  } catch {
    return null;
  }
}

/** One trigger a write can fire and the definition digest of its function when the write was decided (enforce/function-pins.ts). */
export interface FunctionPin {
  /** The oid of the relation the trigger is on. */
  relation: number;
  trigger: string;
  /** "schema.name" of the function, for messages. */
  function: string;
  digest: string;
  /**
   * The xmin of the function's pg_proc row the decision read, or null when not read (the check then fails:
   * it cannot tell which version ran). A function replaced and put back has the digest but not the version
   * (red-team round 19b, R19b-1).
   */
  version: string | null;
}
