// The approval state machine as pure functions: who may answer, when quorum is reached, which
// grant an approval leaves, and when a pending request expires or is withdrawn. Every store runs
// these under its own lock, so the rules are the same whichever store holds the request.

import { randomUUID } from 'node:crypto';
import type { Identity } from '../policy/types.ts';
import { statementShape } from './statement-shape.ts';
import type { Answer, ApprovalRequest, Grant, Principal, RequestState } from './types.ts';

/** Why an answer was refused; the HTTP API maps each to a status. */
export type AnswerRefusal =
  | 'not_pending' // already approved, denied, expired, withdrawn or void
  | 'expired' // its TTL passed (the request is now closed as expired)
  | 'self_answer' // nobody answers their own request
  | 'not_an_approver' // not in a group or role the policy named
  | 'already_answered' // one answer per person: quorum counts distinct approvers
  | 'grant_not_allowed'; // a grant the policy does not allow, or longer than it allows

export type AnswerOutcome =
  | { kind: 'refused'; refusal: AnswerRefusal; message: string; request: ApprovalRequest }
  | { kind: 'answered'; request: ApprovalRequest; grant: Grant | null };

export interface AnswerInput {
  verdict: 'approve' | 'deny';
  comment: string;
  grantSeconds: number;
}

export function principalOf(identity: Pick<Identity, 'subject' | 'issuer' | 'name'>): Principal {
  return { subject: identity.subject, issuer: identity.issuer, name: identity.name };
}

export function samePrincipal(a: Pick<Principal, 'subject' | 'issuer'>, b: Pick<Principal, 'subject' | 'issuer'>): boolean {
  return a.subject === b.subject && a.issuer === b.issuer;
}

/** Whether the identity belongs to a group or role the request's policy named as approvers. */
export function mayAnswer(request: ApprovalRequest, identity: Pick<Identity, 'groups' | 'roles'>): boolean {
  const mine = new Set([...identity.groups, ...identity.roles]);
  return request.requirements.approvers.some((g) => mine.has(g));
}

export function isExpired(request: ApprovalRequest, now: Date): boolean {
  return request.state === 'pending' && now.getTime() >= Date.parse(request.expiresAt);
}

/** Closes a pending request; a request already closed is returned unchanged. */
export function close(request: ApprovalRequest, state: Exclude<RequestState, 'pending' | 'approved' | 'denied'>, reason: string, now: Date): ApprovalRequest {
  if (request.state !== 'pending') return request;
  return { ...request, state, closedAt: now.toISOString(), closedReason: reason };
}

/** Applies one person's answer, or says why it is refused. */
export function applyAnswer(request: ApprovalRequest, identity: Identity, input: AnswerInput, now: Date): AnswerOutcome {
  const refuse = (refusal: AnswerRefusal, message: string, r: ApprovalRequest = request): AnswerOutcome => ({ kind: 'refused', refusal, message, request: r });
  if (isExpired(request, now)) {
    return refuse('expired', `request ${request.id} expired at ${request.expiresAt}`, close(request, 'expired', 'no answer before the TTL passed', now));
  }
  if (request.state !== 'pending') return refuse('not_pending', `request ${request.id} is already ${request.state}`);
  const approver = principalOf(identity);
  if (samePrincipal(approver, request.requester)) return refuse('self_answer', 'nobody answers their own request');
  if (!mayAnswer(request, identity)) {
    return refuse('not_an_approver', `only members of ${request.requirements.approvers.join(', ')} may answer this request`);
  }
  if (request.answers.some((a) => samePrincipal(a.approver, approver))) {
    return refuse('already_answered', `${approver.subject} has already answered request ${request.id}`);
  }
  const grantSeconds = input.verdict === 'approve' ? input.grantSeconds : 0;
  if (grantSeconds > 0 && grantSeconds > request.requirements.grantMaxSeconds) {
    return refuse(
      'grant_not_allowed',
      request.requirements.grantMaxSeconds === 0
        ? 'the policy allows no grant for this statement: approve it once'
        : `the policy allows grants of at most ${request.requirements.grantMaxSeconds} seconds`,
    );
  }
  const answer: Answer = { approver, verdict: input.verdict, comment: input.comment, at: now.toISOString(), grantSeconds };
  const answers = [...request.answers, answer];
  if (input.verdict === 'deny') {
    return { kind: 'answered', request: { ...request, answers, state: 'denied', closedAt: answer.at, closedReason: null }, grant: null };
  }
  const approvals = answers.filter((a) => a.verdict === 'approve');
  if (approvals.length < request.requirements.quorum) {
    return { kind: 'answered', request: { ...request, answers }, grant: null };
  }
  const grant = grantFor(request, approvals, now);
  return {
    kind: 'answered',
    request: { ...request, answers, state: 'approved', closedAt: answer.at, closedReason: null, grantId: grant?.id ?? null },
    grant,
  };
}

/**
 * An approval becomes a grant only when every approver asked for one; it lasts as long as the
 * shortest they asked for.
 */
function grantFor(request: ApprovalRequest, approvals: readonly Answer[], now: Date): Grant | null {
  if (approvals.some((a) => a.grantSeconds <= 0)) return null;
  const seconds = Math.min(...approvals.map((a) => a.grantSeconds));
  return {
    id: randomUUID(),
    requestId: request.id,
    fingerprint: request.statement.fingerprint,
    normalized: request.statement.normalized,
    subject: request.requester.subject,
    issuer: request.requester.issuer,
    revision: request.policy.revision,
    createdAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + seconds * 1000).toISOString(),
    grantedBy: approvals.map((a) => a.approver),
    revokedAt: null,
    revokedBy: null,
  };
}

/**
 * Whether a grant lets this statement through now, for this identity, under this policy commit: the
 * same fingerprint and the same normalized text (statement-shape.ts), other literal values only.
 * `normalized` is null when the statement could not be normalized: no grant covers it.
 */
export function grantCovers(grant: Grant, q: { fingerprint: string; normalized: string | null; subject: string; issuer: string; revision: string }, now: Date): boolean {
  return (
    grant.revokedAt === null &&
    now.getTime() < Date.parse(grant.expiresAt) &&
    grant.fingerprint === q.fingerprint &&
    q.normalized !== null &&
    statementShape(grant.normalized) === statementShape(q.normalized) &&
    grant.subject === q.subject &&
    grant.issuer === q.issuer &&
    grant.revision === q.revision
  );
}

/** A grant's state for people reading the list. */
export function grantState(grant: Grant, activeRevision: string, now: Date): 'active' | 'expired' | 'revoked' | 'void' {
  if (grant.revokedAt !== null) return 'revoked';
  if (now.getTime() >= Date.parse(grant.expiresAt)) return 'expired';
  if (grant.revision !== activeRevision) return 'void';
  return 'active';
}
