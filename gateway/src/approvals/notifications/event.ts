// What a notification announces: one approval request that was just opened or just closed, and the
// JSON document the signed webhook carries (schemas/approval-notification.schema.json). The
// statement appears only as its fingerprint, kind and tables: never its text, literals or parameters.

import type { ApprovalRequest } from '../types.ts';

/** The step announced: a new request, or the final state it reached. */
export type NotificationKind = 'requested' | 'approved' | 'denied' | 'expired' | 'withdrawn' | 'void';

export interface ApprovalEvent {
  kind: NotificationKind;
  request: ApprovalRequest;
}

export const NOTIFICATION_VERSION = 1;

export interface NotificationDocument {
  v: typeof NOTIFICATION_VERSION;
  type: 'gatehouse.approval';
  event: NotificationKind;
  /** The same for every attempt of one delivery: receivers drop duplicates with it. */
  delivery_id: string;
  time: string;
  /** Where approvers answer (the approval page); null when no admin listener serves it. */
  url: string | null;
  request: {
    id: string;
    state: ApprovalRequest['state'];
    created_at: string;
    expires_at: string;
    closed_at: string | null;
    closed_reason: string | null;
    requester: { subject: string; issuer: string; name: string | null };
    statement: { fingerprint: string; kind: string; protocol: 'simple' | 'extended'; tables_read: string[]; tables_written: string[] };
    policy: { ids: string[]; reason: string; revision: string; engine: string };
    requirements: { approvers: string[]; quorum: number; ttl_seconds: number };
    requester_reason: string | null;
    answers: Array<{ approver: { subject: string; issuer: string; name: string | null }; verdict: 'approve' | 'deny'; comment: string; at: string }>;
  };
}

/** The request's kind of step for a state it reached; null while pending. */
export function closingKind(state: ApprovalRequest['state']): NotificationKind | null {
  switch (state) {
    case 'pending':
      return null;
    case 'approved':
    case 'denied':
    case 'expired':
    case 'withdrawn':
    case 'void':
      return state;
    default: {
      const never: never = state;
      throw new Error(`unknown request state ${String(never)}`);
    }
  }
}

export function notificationDocument(e: ApprovalEvent, deliveryId: string, time: Date, pageUrl: string | null): NotificationDocument {
  const r = e.request;
  return {
    v: NOTIFICATION_VERSION,
    type: 'gatehouse.approval',
    event: e.kind,
    delivery_id: deliveryId,
    time: time.toISOString(),
    url: pageUrl,
    request: {
      id: r.id,
      state: r.state,
      created_at: r.createdAt,
      expires_at: r.expiresAt,
      closed_at: r.closedAt,
      closed_reason: r.closedReason,
      requester: { subject: r.requester.subject, issuer: r.requester.issuer, name: r.requester.name },
      statement: {
        fingerprint: r.statement.fingerprint,
        kind: r.statement.kind,
        protocol: r.statement.protocol,
        tables_read: r.statement.tablesRead,
        tables_written: r.statement.tablesWritten,
      },
      policy: { ids: r.policy.ids, reason: r.policy.reason, revision: r.policy.revision, engine: r.policy.engine },
      requirements: { approvers: r.requirements.approvers, quorum: r.requirements.quorum, ttl_seconds: r.requirements.ttlSeconds },
      requester_reason: r.requesterReason,
      answers: r.answers.map((a) => ({ approver: { ...a.approver }, verdict: a.verdict, comment: a.comment, at: a.at })),
    },
  };
}
