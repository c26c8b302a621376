// The JSON documents the approval API returns (schemas/approval-request.schema.json and
// approval-grant.schema.json): snake_case, and a statement's literals and parameters only for
// people who may answer it; everyone else sees the normalized text ($1, $2...).

import type { Identity } from '../policy/types.ts';
import { grantState, mayAnswer, samePrincipal } from './transitions.ts';
import type { ApprovalRequest, Grant, Principal } from './types.ts';

export interface RequestView {
  id: string;
  state: ApprovalRequest['state'];
  created_at: string;
  expires_at: string;
  closed_at: string | null;
  closed_reason: string | null;
  requester: { subject: string; issuer: string; name: string | null; groups: string[]; roles: string[] };
  session_id: string;
  decision_id: string;
  statement: {
    text: string;
    literals_shown: boolean;
    parameters: Array<string | null> | null;
    fingerprint: string;
    protocol: 'simple' | 'extended';
    kind: string;
    tables_read: string[];
    tables_written: string[];
  };
  policy: { ids: string[]; reason: string; revision: string; engine: string };
  requirements: { approvers: string[]; quorum: number; ttl_seconds: number; reason_required: boolean; grant_max_seconds: number };
  requester_reason: string | null;
  answers: Array<{ approver: Principal; verdict: 'approve' | 'deny'; comment: string; at: string; grant_seconds: number }>;
  grant_id: string | null;
  /** Whether the viewer may answer it now. */
  can_answer: boolean;
}

export function requestView(r: ApprovalRequest, viewer: Identity): RequestView {
  const approver = mayAnswer(r, viewer);
  const self = samePrincipal(r.requester, viewer);
  return {
    id: r.id,
    state: r.state,
    created_at: r.createdAt,
    expires_at: r.expiresAt,
    closed_at: r.closedAt,
    closed_reason: r.closedReason,
    requester: { ...r.requester },
    session_id: r.sessionId,
    decision_id: r.decisionId,
    statement: {
      text: approver ? r.statement.text : r.statement.normalized,
      literals_shown: approver,
      parameters: approver ? r.statement.parameters : null,
      fingerprint: r.statement.fingerprint,
      protocol: r.statement.protocol,
      kind: r.statement.kind,
      tables_read: r.statement.tablesRead,
      tables_written: r.statement.tablesWritten,
    },
    policy: { ...r.policy },
    requirements: {
      approvers: r.requirements.approvers,
      quorum: r.requirements.quorum,
      ttl_seconds: r.requirements.ttlSeconds,
      reason_required: r.requirements.reasonRequired,
      grant_max_seconds: r.requirements.grantMaxSeconds,
    },
    requester_reason: r.requesterReason,
    answers: r.answers.map((a) => ({ approver: a.approver, verdict: a.verdict, comment: a.comment, at: a.at, grant_seconds: a.grantSeconds })),
    grant_id: r.grantId,
    can_answer: approver && !self && r.state === 'pending' && !r.answers.some((a) => samePrincipal(a.approver, viewer)),
  };
}

export interface GrantView {
  id: string;
  request_id: string;
  state: 'active' | 'expired' | 'revoked' | 'void';
  fingerprint: string;
  statement: string;
  subject: string;
  issuer: string;
  revision: string;
  created_at: string;
  expires_at: string;
  granted_by: Principal[];
  revoked_at: string | null;
  revoked_by: Principal | null;
}

export function grantView(g: Grant, activeRevision: string, now: Date): GrantView {
  return {
    id: g.id,
    request_id: g.requestId,
    state: grantState(g, activeRevision, now),
    fingerprint: g.fingerprint,
    statement: g.normalized,
    subject: g.subject,
    issuer: g.issuer,
    revision: g.revision,
    created_at: g.createdAt,
    expires_at: g.expiresAt,
    granted_by: g.grantedBy,
    revoked_at: g.revokedAt,
    revoked_by: g.revokedBy,
  };
}
