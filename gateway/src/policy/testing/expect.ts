// Compares a verdict with a case's expectation, and two engines' verdicts with each other, and says
// what differs in a few readable lines (expected vs actual decision, policies and masks).

import { readApprovalRequirements } from '../approval-requirements.ts';
import type { ApprovalRequirements, EngineVerdict } from '../types.ts';
import type { CaseExpectation, ExpectedApproval, ExpectedDetection, ExpectedMask } from './types.ts';

/** What differs between the expectation and the verdict; [] when it meets it. */
export function expectationMismatches(expect: CaseExpectation, verdict: EngineVerdict): string[] {
  const out: string[] = [];
  if (verdict.action !== expect.decision) out.push('decision');
  if (expect.policies !== undefined && !sameSet(expect.policies, verdict.policies)) out.push('policies');
  if (expect.masks !== undefined && !sameSet(expect.masks.map(maskKey), verdict.masks.map(maskKey))) out.push('masks');
  if (expect.detections !== undefined && !sameSet(expect.detections.map(detectionKey), detectionsOf(verdict).map(detectionKey))) out.push('detections');
  if (expect.reason_contains !== undefined && !verdict.reason.includes(expect.reason_contains)) out.push('reason');
  if (expect.reviewed !== undefined && !sameSet(expect.reviewed, verdict.reviewed ?? [])) out.push('reviewed');
  if (expect.approval !== undefined && approvalText(expectedRequirements(expect.approval)) !== approvalText(verdict.approval)) out.push('approval');
  return out;
}

/** The requirements a case's approval expectation stands for (the policy defaults filled in); null when malformed. */
function expectedRequirements(e: ExpectedApproval): ApprovalRequirements | undefined {
  const read = readApprovalRequirements(e);
  return read.ok ? read.requirements : undefined;
}

/** "approvers a,b; quorum 1; ttl 3600s; reason optional; grant up to 1800s"; "(none)" when absent. */
export function approvalText(r: ApprovalRequirements | undefined): string {
  if (r === undefined) return '(none)';
  return `approvers ${r.approvers.join(',')}; quorum ${r.quorum}; ttl ${r.ttlSeconds}s; reason ${r.reasonRequired ? 'required' : 'optional'}; ${r.grantMaxSeconds === 0 ? 'no grant' : `grant up to ${r.grantMaxSeconds}s`}`;
}

/** Expected vs actual decision, policies and masks (and reason), the mismatched ones marked ✗. */
export function describeMismatch(expect: CaseExpectation, verdict: EngineVerdict, mismatches: readonly string[]): string {
  const row = (field: string, expected: string | undefined, actual: string): string => {
    const mark = mismatches.includes(field) ? '✗' : ' ';
    const label = `${field}:`.padEnd(9);
    if (expected === undefined) return `${mark} ${label} got ${actual} (not checked)`;
    return `${mark} ${label} expected ${expected}, got ${expected === actual ? 'the same' : actual}`;
  };
  const reasonMark = mismatches.includes('reason') ? '✗' : ' ';
  return [
    row('decision', expect.decision, verdict.action),
    row('policies', expect.policies === undefined ? undefined : list(expect.policies), list(verdict.policies)),
    row('masks', expect.masks === undefined ? undefined : maskList(expect.masks), maskList(verdict.masks)),
    ...(expect.detections === undefined && detectionsOf(verdict).length === 0
      ? []
      : [row('detections', expect.detections === undefined ? undefined : detectionList(expect.detections), detectionList(detectionsOf(verdict)))]),
    ...(expect.reviewed === undefined && (verdict.reviewed ?? []).length === 0 ? [] : [row('reviewed', expect.reviewed === undefined ? undefined : list(expect.reviewed), list(verdict.reviewed ?? []))]),
    ...(expect.approval === undefined && verdict.approval === undefined
      ? []
      : [row('approval', expect.approval === undefined ? undefined : approvalText(expectedRequirements(expect.approval)), approvalText(verdict.approval))]),
    `${reasonMark} reason:   ${verdict.reason === '' ? '(none)' : verdict.reason}${expect.reason_contains === undefined ? '' : ` (expected to contain "${expect.reason_contains}")`}`,
  ].join('\n');
}

/** What differs between two engines' verdicts (decision, policies, masks; reasons may be worded differently). */
export function disagreements(a: EngineVerdict, b: EngineVerdict): string[] {
  const out: string[] = [];
  if (a.action !== b.action) out.push('decision');
  if (!sameSet(a.policies, b.policies)) out.push('policies');
  if (!sameSet(a.masks.map(maskKey), b.masks.map(maskKey))) out.push('masks');
  if (!sameSet(detectionsOf(a).map(detectionKey), detectionsOf(b).map(detectionKey))) out.push('detections');
  if (approvalText(a.approval) !== approvalText(b.approval)) out.push('approval');
  if (!sameSet(a.reviewed ?? [], b.reviewed ?? [])) out.push('reviewed');
  return out;
}

export function describeDisagreement(verdicts: Record<string, EngineVerdict>, differences: readonly string[]): string {
  const width = Math.max(...Object.keys(verdicts).map((k) => k.length)) + 1;
  return [
    ...Object.entries(verdicts).map(([engine, v]) => `${`${engine}:`.padEnd(width)} ${summary(v)}`),
    `engines differ on: ${differences.join(', ')}`,
  ].join('\n');
}

/** "decision mask; policies a, b; masks t(c:redact)". */
export function summary(v: EngineVerdict): string {
  const detections = detectionsOf(v);
  return `decision ${v.action}; policies ${list(v.policies)}; masks ${maskList(v.masks)}${detections.length === 0 ? '' : `; detections ${detectionList(detections)}`}`;
}

/** Masks grouped by table: "clinical.patients(email:hash, ssn:redact)"; "(none)" when empty. */
export function maskList(masks: readonly ExpectedMask[]): string {
  if (masks.length === 0) return '(none)';
  const byTable = new Map<string, Set<string>>();
  for (const m of masks) {
    const columns = byTable.get(m.table) ?? byTable.set(m.table, new Set()).get(m.table)!;
    columns.add(`${m.column}:${m.strategy}`);
  }
  return [...byTable.keys()]
    .sort()
    .map((t) => `${t}(${[...(byTable.get(t) ?? [])].sort().join(', ')})`)
    .join(', ');
}

/** "clinical.patients.ssn:redact". */
export function maskKey(m: ExpectedMask): string {
  return `${m.table}.${m.column}:${m.strategy}`;
}

/** "clinical.visits.notes:email+ssn": detectors sorted, so order in a case does not matter. */
export function detectionKey(d: ExpectedDetection): string {
  return `${d.table}.${d.column}:${[...new Set(d.detectors)].sort().join('+')}`;
}

/** "clinical.visits.notes:email+ssn, ..."; "(none)" when empty. */
export function detectionList(detections: readonly ExpectedDetection[]): string {
  return detections.length === 0 ? '(none)' : detections.map(detectionKey).sort().join(', ');
}

function detectionsOf(v: EngineVerdict): ExpectedDetection[] {
  return v.detections ?? [];
}

function list(values: readonly string[]): string {
  return values.length === 0 ? '(none)' : [...new Set(values)].sort().join(', ');
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const x = new Set(a);
  const y = new Set(b);
  return x.size === y.size && [...x].every((v) => y.has(v));
}
