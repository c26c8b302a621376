// Precedence combining of partial verdicts into one: deny > approve > mask > allow, masks and detections unioned.

import { combineRequirements } from './approval-requirements.ts';
import { DETECTOR_NAMES, MASK_STRENGTH, type DecisionAction, type DetectRule, type EngineVerdict, type MaskRule, type PolicyInput, type MaskStrategy } from './types.ts';
import { reviewedName } from './reviewed-entries.ts';

/** Higher wins. */
const ACTION_RANK: Record<DecisionAction, number> = { allow: 0, mask: 1, approve: 2, deny: 3 };

/** When two rules mask the same column, the one that reveals less wins (MASK_STRENGTH). */
const MASK_RANK = MASK_STRENGTH;

export const NO_PERMIT_REASON = 'no policy permits this statement';

/**
 * The id reported when nothing permits a request (a table read or written, or the statement):
 * the Cedar engine reports it for a request no permit satisfies, the Rego library rule in
 * policies/rego/gatehouse.rego uses it for the same case, so both engines' outcomes compare.
 */
export const DEFAULT_DENY_ID = 'default-deny';

export function maskStrength(strategy: MaskStrategy): number {
  return MASK_RANK[strategy];
}

export function actionRank(action: DecisionAction): number {
  return ACTION_RANK[action];
}

/**
 * Union of mask rules, one per (table, column), the strongest strategy winning
 * (on a tie, the policy id that sorts first, so the result does not depend on order).
 * Sorted by table then column.
 */
export function unionMasks(rules: readonly MaskRule[]): MaskRule[] {
  const byColumn = new Map<string, MaskRule>();
  for (const rule of rules) {
    const key = `${rule.table}\u0000${rule.column}`;
    const held = byColumn.get(key);
    if (
      held === undefined ||
      MASK_RANK[rule.strategy] > MASK_RANK[held.strategy] ||
      (MASK_RANK[rule.strategy] === MASK_RANK[held.strategy] && rule.policy < held.policy)
    ) {
      byColumn.set(key, { ...rule });
    }
  }
  return [...byColumn.values()].sort((a, b) =>
    a.table === b.table ? compare(a.column, b.column) : compare(a.table, b.table),
  );
}

/**
 * Union of detection rules, one per (table, column): every detector any rule names (in
 * DETECTOR_NAMES order) and every policy that asked (sorted). Sorted by table then column.
 */
export function unionDetections(rules: readonly DetectRule[]): DetectRule[] {
  const byColumn = new Map<string, { table: string; column: string; detectors: Set<string>; policies: Set<string> }>();
  for (const rule of rules) {
    const key = `${rule.table}\u0000${rule.column}`;
    const held = byColumn.get(key) ?? byColumn.set(key, { table: rule.table, column: rule.column, detectors: new Set(), policies: new Set() }).get(key)!;
    for (const d of rule.detectors) held.detectors.add(d);
    for (const p of rule.policies) held.policies.add(p);
  }
  return [...byColumn.values()]
    .map((r) => ({
      table: r.table,
      column: r.column,
      detectors: DETECTOR_NAMES.filter((d) => r.detectors.has(d)),
      policies: [...r.policies].sort(compare),
    }))
    .sort((a, b) => (a.table === b.table ? compare(a.column, b.column) : compare(a.table, b.table)));
}

/**
 * Combine partial verdicts (one per matched rule, or one per authorization request).
 * The winning action's reasons and policy ids are kept (deduplicated, sorted, so both engines
 * produce comparable output); masks from every part are kept, also when a stronger action wins,
 * for the audit record. No parts at all means nothing permitted the statement: deny.
 */
export function combineVerdicts(parts: readonly EngineVerdict[], noPermitReason: string = NO_PERMIT_REASON): EngineVerdict {
  if (parts.length === 0) {
    return { action: 'deny', reason: noPermitReason, policies: [DEFAULT_DENY_ID], masks: [] };
  }
  let winner: DecisionAction = 'allow';
  for (const part of parts) {
    if (ACTION_RANK[part.action] > ACTION_RANK[winner]) winner = part.action;
  }
  // An explicit deny explains a deny better than "nothing permitted it", and Cedar cannot report
  // both for one request (a forbidden request hides whether any permit applied): when a named
  // policy denies, the default deny is left out, so both engines report the same ids.
  const explicitDeny =
    winner === 'deny' && parts.some((p) => p.action === 'deny' && !isDefaultDeny(p));
  const reasons = new Set<string>();
  const policies = new Set<string>();
  const masks: MaskRule[] = [];
  const detections: DetectRule[] = [];
  for (const part of parts) {
    masks.push(...part.masks);
    detections.push(...(part.detections ?? []));
    if (part.action !== winner || (explicitDeny && isDefaultDeny(part))) continue;
    if (part.reason !== '') reasons.add(part.reason);
    for (const id of part.policies) policies.add(id);
  }
  const verdict: EngineVerdict = {
    action: winner,
    reason: [...reasons].sort(compare).join('; '),
    policies: [...policies].sort(compare),
    masks: unionMasks(masks),
  };
  // Only when there are some: verdicts without detection keep their shape.
  if (detections.length > 0) verdict.detections = unionDetections(detections);
  if (winner === 'approve') {
    const asks = parts.filter((p) => p.action === 'approve');
    const approval = asks.every((p) => p.approval !== undefined) ? combineRequirements(asks.map((p) => p.approval!)) : null;
    if (approval === null) {
      // Fail closed: a request nobody may answer would only hold the statement until it expires.
      return {
        action: 'deny',
        reason: `approve rules ${verdict.policies.join(', ')} name no approver group in common (or name none): nobody could answer`,
        policies: verdict.policies,
        masks: verdict.masks,
      };
    }
    verdict.approval = approval;
  }
  return verdict;
}

/**
 * The verdict with the statement's trigger functions the policy vouches for (EngineVerdict.reviewed):
 * the entries of `vouched` (a name, or a name pinned to a definition: policy/reviewed-entries.ts) whose
 * function the input lists in statement.trigger_functions, sorted. Unchanged when none. A pin is
 * checked against the triggers' definitions after the verdict (enforce/trigger-review.ts).
 */
export function withReviewed(verdict: EngineVerdict, vouched: Iterable<string>, input: PolicyInput): EngineVerdict {
  const fired = new Set(input.statement.trigger_functions ?? []);
  if (fired.size === 0) return verdict;
  const reviewed = new Set<string>();
  const all = [...vouched];
  for (const f of all) {
    const name = reviewedName(f);
    if (name !== null && fired.has(name)) reviewed.add(f);
  }
  // An entry that declares the tables its function writes: the triggers of those tables run too, and
  // their functions' reviews may be anywhere in the set (enforce/trigger-chain.ts follows them).
  if ([...reviewed].some((f) => f.includes(' writes '))) for (const f of all) if (reviewedName(f) !== null) reviewed.add(f);
  return reviewed.size === 0 ? verdict : { ...verdict, reviewed: [...reviewed].sort(compare) };
}

/** The verdict every engine returns when it cannot decide: fail closed. */
export function engineErrorVerdict(message: string, policies: string[] = []): EngineVerdict {
  return { action: 'deny', reason: `policy engine error: ${message}`, policies, masks: [] };
}

function isDefaultDeny(part: EngineVerdict): boolean {
  return part.policies.length === 1 && part.policies[0] === DEFAULT_DENY_ID;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
