// The approval model: a request bound to one held statement (text, parameters, fingerprint), the
// identity and session that sent it and the policy commit that asked for it; the answers given to
// it; and the time-boxed grants an approval may leave behind. Plain JSON documents, so every store
// keeps them as they are.

import type { ApprovalRequirements, EngineKind } from '../policy/types.ts';
import type { StatementKind } from '../sql/facts.ts';

/** pending → approved | denied | expired | withdrawn | void; nothing leaves a final state. */
export type RequestState = 'pending' | 'approved' | 'denied' | 'expired' | 'withdrawn' | 'void';

export const FINAL_STATES: readonly RequestState[] = ['approved', 'denied', 'expired', 'withdrawn', 'void'];

/** A person or service as its verified token names it. */
export interface Principal {
  subject: string;
  issuer: string;
  name: string | null;
}

export interface Requester extends Principal {
  groups: string[];
  roles: string[];
}

export interface Answer {
  approver: Principal;
  verdict: 'approve' | 'deny';
  comment: string;
  /** ISO time. */
  at: string;
  /** For 'approve': a grant of this many seconds asked for instead of a one-off approval; 0: none. */
  grantSeconds: number;
}

export interface HeldStatement {
  /** As the client sent it, literals included: shown only to approvers. */
  text: string;
  /** Literals replaced by $n (libpg-query normalize): what everyone else sees. */
  normalized: string;
  /** libpg-query's fingerprint: what a grant covers. */
  fingerprint: string;
  /** Bound parameters of an extended-protocol Execute, as text (null for NULL); [] for a simple query. */
  parameters: Array<string | null>;
  protocol: 'simple' | 'extended';
  kind: StatementKind;
  tablesRead: string[];
  tablesWritten: string[];
}

export interface ApprovalRequest {
  id: string;
  state: RequestState;
  createdAt: string;
  expiresAt: string;
  /** When the request reached a final state; null while pending. */
  closedAt: string | null;
  /** Why it closed as it did, for expired, withdrawn and void ("client disconnected", "policy commit changed"). */
  closedReason: string | null;
  requester: Requester;
  sessionId: string;
  /** The Gatehouse instance whose session holds the statement (its heartbeat keeps the request alive); null in requests stored before instances were recorded. */
  instanceId: string | null;
  /** The audit decision id of the held statement. */
  decisionId: string;
  statement: HeldStatement;
  policy: { ids: string[]; reason: string; revision: string; engine: EngineKind };
  requirements: ApprovalRequirements;
  /** The requester's reason (a "reason:" comment in the statement, approvals/requester-reason.ts); null when none was given. */
  requesterReason: string | null;
  answers: Answer[];
  /** The grant an approval created, if any. */
  grantId: string | null;
}

/** The same statement fingerprint let through for one identity for a while, under one policy commit. */
export interface Grant {
  id: string;
  requestId: string;
  fingerprint: string;
  /** The statement shape, literals replaced, for people reading the list. */
  normalized: string;
  subject: string;
  issuer: string;
  revision: string;
  createdAt: string;
  expiresAt: string;
  grantedBy: Principal[];
  revokedAt: string | null;
  revokedBy: Principal | null;
}
