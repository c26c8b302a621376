// What an `approve` verdict asks of the people who answer it (who, how many, how long, reason,
// time-boxed grant), read from a Rego approve entry or Cedar annotations, and combined when several
// approve rules match one statement.

import type { ApprovalRequirements } from './types.ts';

/** A request waits this long unless the policy says otherwise. */
export const DEFAULT_APPROVAL_TTL_SECONDS = 3600;
/** Longer waits are refused at load (Cedar) or as an engine error (Rego): a held statement holds a session. */
export const MAX_APPROVAL_TTL_SECONDS = 7 * 24 * 3600;
/** The longest grant a policy may allow. */
export const MAX_GRANT_SECONDS = 24 * 3600;

/** The raw fields as a policy writes them (Rego object keys, Cedar annotation names). */
export interface RawApprovalFields {
  approvers?: unknown;
  quorum?: unknown;
  ttl?: unknown;
  reason_required?: unknown;
  grant?: unknown;
}

export type RequirementsResult = { ok: true; requirements: ApprovalRequirements } | { ok: false; problem: string };

/**
 * "90s", "30m", "1h", "2d" (one number, one unit) → seconds; null when malformed.
 * Kept to one unit so that policies read the same in Rego and Cedar.
 */
export function parseDuration(text: string): number | null {
  const m = /^\s*(\d{1,7})\s*([smhd])\s*$/.exec(text);
  if (m === null) return null;
  const n = Number(m[1]);
  const unit = m[2] as 's' | 'm' | 'h' | 'd';
  const factor = unit === 's' ? 1 : unit === 'm' ? 60 : unit === 'h' ? 3600 : 86400;
  return n * factor;
}

/**
 * Reads and checks the fields. `approvers` is required (no default: a request nobody may answer
 * would only time out); the rest default to quorum 1, ttl 1h, no reason required, no grant.
 * Lists may be arrays (Rego) or comma-separated strings (Cedar annotations); numbers and booleans
 * may be strings ("2", "true").
 */
export function readApprovalRequirements(raw: RawApprovalFields): RequirementsResult {
  const approvers = listOf(raw.approvers);
  if (approvers === null || approvers.length === 0) {
    return { ok: false, problem: 'names no approvers (a list of groups or roles whose members may answer)' };
  }
  const quorum = raw.quorum === undefined ? 1 : integerOf(raw.quorum);
  if (quorum === null || quorum < 1 || quorum > 20) return { ok: false, problem: 'has a quorum that is not a whole number from 1 to 20' };
  const ttl = raw.ttl === undefined ? DEFAULT_APPROVAL_TTL_SECONDS : durationOf(raw.ttl);
  if (ttl === null || ttl < 1 || ttl > MAX_APPROVAL_TTL_SECONDS) {
    return { ok: false, problem: `has a ttl that is not a duration such as "30m" or "1h" up to ${MAX_APPROVAL_TTL_SECONDS / 86400}d` };
  }
  const reasonRequired = raw.reason_required === undefined ? false : booleanOf(raw.reason_required);
  if (reasonRequired === null) return { ok: false, problem: 'has a reason_required that is not true or false' };
  const grant = raw.grant === undefined ? 0 : durationOf(raw.grant);
  if (grant === null || grant < 0 || grant > MAX_GRANT_SECONDS) {
    return { ok: false, problem: `has a grant that is not a duration such as "30m" up to ${MAX_GRANT_SECONDS / 3600}h` };
  }
  return {
    ok: true,
    requirements: { approvers: [...new Set(approvers)].sort(), quorum, ttlSeconds: ttl, reasonRequired, grantMaxSeconds: grant },
  };
}

/**
 * Several approve rules on one statement: every one must be satisfied, so the approvers are those
 * all of them name, the quorum the largest, the wait the shortest, a reason required if any asks,
 * and a grant only as long as the shortest any allows. Null when no group is named by all of them
 * (nobody could answer: the caller denies).
 */
export function combineRequirements(all: readonly ApprovalRequirements[]): ApprovalRequirements | null {
  const [first, ...rest] = all;
  if (first === undefined) return null;
  let approvers = new Set(first.approvers);
  let { quorum, ttlSeconds, reasonRequired, grantMaxSeconds } = first;
  for (const r of rest) {
    approvers = new Set(r.approvers.filter((a) => approvers.has(a)));
    quorum = Math.max(quorum, r.quorum);
    ttlSeconds = Math.min(ttlSeconds, r.ttlSeconds);
    reasonRequired = reasonRequired || r.reasonRequired;
    grantMaxSeconds = Math.min(grantMaxSeconds, r.grantMaxSeconds);
  }
  if (approvers.size === 0) return null;
  return { approvers: [...approvers].sort(), quorum, ttlSeconds, reasonRequired, grantMaxSeconds };
}

function listOf(value: unknown): string[] | null {
  if (typeof value === 'string') return value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (Array.isArray(value) && value.every((v) => typeof v === 'string' && v.trim() !== '')) return value.map((v: string) => v.trim());
  return null;
}

function integerOf(value: unknown): number | null {
  const n = typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
  return typeof n === 'number' && Number.isInteger(n) ? n : null;
}

function booleanOf(value: unknown): boolean | null {
  if (typeof value === 'boolean') return value;
  if (value === 'true') return true;
  if (value === 'false') return false;
  return null;
}

function durationOf(value: unknown): number | null {
  return typeof value === 'string' ? parseDuration(value) : null;
}
