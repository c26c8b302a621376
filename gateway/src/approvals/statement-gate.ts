// One session's approval gate (enforce/approval-gate.ts): lets a statement through on a grant, or
// opens a request, tells the client at once where it is answered (NoticeResponse), waits for the
// answer and turns it into run / 42501 / a timeout error. A cancel or disconnect withdraws it.

import { normalizeSync } from 'libpg-query';
import type { ApprovalGate, GateAnswer, HeldStatementInfo } from '../enforce/approval-gate.ts';
import { GatehouseError } from '../errors.ts';
import type { Identity, SessionInfo } from '../policy/types.ts';
import { requesterReason } from './requester-reason.ts';
import type { ApprovalService } from './service.ts';
import type { ApprovalRequest } from './types.ts';

export interface SessionGateOptions {
  service: ApprovalService;
  identity: Identity;
  session: SessionInfo;
  activeRevision: () => string;
  /** Where approvers answer; null when no admin listener serves the page. */
  pageUrl: () => string | null;
  /** The session's `gatehouse.reason` setting now (null: not set); a reason comment in the statement wins. */
  reasonSetting?: () => string | null;
  /** Sends a NoticeResponse to the client now. */
  notice: (fields: { message: string; detail?: string; hint?: string }) => void;
}

export interface SessionGate extends ApprovalGate {
  /** Withdraws every request this session still waits for (CancelRequest, disconnect). */
  withdrawAll(reason: string): void;
}

export function createSessionGate(o: SessionGateOptions): SessionGate {
  const waiting = new Map<string, AbortController>();
  const refused = (code: 'APPROVAL_REQUIRED' | 'APPROVAL_DENIED' | 'APPROVAL_EXPIRED' | 'APPROVAL_VOID', message: string, decisionId: string, hint?: string): GateAnswer => ({
    kind: 'refused',
    error: new GatehouseError(code, message, { decisionId, ...(hint === undefined ? {} : { hint }) }),
  });

  return {
    async hold(s: HeldStatementInfo): Promise<GateAnswer> {
      const d = s.decision;
      const requirements = d.approval;
      if (s.input === null || requirements === undefined) {
        return refused('APPROVAL_REQUIRED', `Gatehouse policy requires approval for this statement, but did not say who approves: ${d.reason}`, d.id);
      }
      const fingerprint = s.input.statement.fingerprint;
      const shape = normalizedOrNull(s.text);
      const grant = await o.service.findGrant({ fingerprint, normalized: shape, subject: o.identity.subject, issuer: o.identity.issuer });
      if (grant !== null) return { kind: 'approved', note: `let through by grant ${grant.id} until ${grant.expiresAt}` };
      const reason = requesterReason(s.queryText) ?? o.reasonSetting?.()?.trim().slice(0, 500) ?? null;
      if (requirements.reasonRequired && reason === null) {
        return refused('APPROVAL_REQUIRED', `Gatehouse policy requires approval for this statement, with a reason: ${d.reason}`, d.id, "Say why in a comment in the statement, e.g. /* reason: ticket 1234 */ UPDATE ..., or with SET gatehouse.reason = 'ticket 1234' before it, then run it again.");
      }
      const request = await o.service.open({
        requester: { subject: o.identity.subject, issuer: o.identity.issuer, name: o.identity.name, groups: o.identity.groups, roles: o.identity.roles },
        sessionId: o.session.id,
        decisionId: d.id,
        statement: {
          text: s.text,
          normalized: shape ?? '(the statement could not be normalized; shown to approvers only)',
          fingerprint,
          parameters: s.parameters.map(parameterText),
          protocol: s.protocol,
          kind: s.input.statement.kind,
          tablesRead: s.input.statement.tables_read,
          tablesWritten: s.input.statement.tables_written,
        },
        policy: { ids: d.policies, reason: d.reason, revision: d.revision, engine: d.engine },
        requirements,
        requesterReason: reason,
      });
      const page = o.pageUrl();
      o.notice({
        message: `Gatehouse is holding this statement for approval: request ${request.id}`,
        detail: `${d.reason}. ${requirements.quorum} approval(s) needed from ${requirements.approvers.join(', ')}; it waits up to ${minutes(requirements.ttlSeconds)} (until ${request.expiresAt}).`,
        hint: page === null ? `Approvers answer with: gatehouse approvals approve ${request.id}` : `Approvers answer at ${page} or with: gatehouse approvals approve ${request.id}`,
      });
      const abort = new AbortController();
      waiting.set(request.id, abort);
      let closed: ApprovalRequest | null;
      try {
        closed = await o.service.waitForClose(request.id, abort.signal);
      } finally {
        waiting.delete(request.id);
      }
      return answerFor(closed ?? request, o.activeRevision(), refused);
    },
    withdrawAll(reason: string): void {
      for (const [id, abort] of waiting) {
        abort.abort();
        void o.service.withdraw(id, reason).catch(() => undefined);
      }
      waiting.clear();
    },
  };
}

function answerFor(r: ApprovalRequest, activeRevision: string, refused: (code: 'APPROVAL_REQUIRED' | 'APPROVAL_DENIED' | 'APPROVAL_EXPIRED' | 'APPROVAL_VOID', message: string, decisionId: string, hint?: string) => GateAnswer): GateAnswer {
  switch (r.state) {
    case 'approved': {
      if (r.policy.revision !== activeRevision) {
        return refused('APPROVAL_VOID', `approval request ${r.id} was approved, but the policy commit changed while it waited`, r.decisionId, 'Run the statement again: the active policy decides it.');
      }
      const by = r.answers.filter((a) => a.verdict === 'approve').map((a) => a.approver.subject);
      return { kind: 'approved', note: `approved in request ${r.id} by ${by.join(', ')}` };
    }
    case 'denied': {
      const no = r.answers.find((a) => a.verdict === 'deny');
      const why = no === undefined ? '' : `${no.approver.subject}${no.comment === '' ? '' : `: "${no.comment}"`}`;
      return refused('APPROVAL_DENIED', `approval request ${r.id} was denied by ${why}`, r.decisionId, 'The statement was not run. Ask the approver, or change what you asked for.');
    }
    case 'expired':
      return refused('APPROVAL_EXPIRED', `canceling statement: approval request ${r.id} expired without enough approvals`, r.decisionId, 'The statement was not run. Run it again to ask again, or ask an approver to answer sooner.');
    case 'void':
      return refused('APPROVAL_VOID', `approval request ${r.id} is void: ${r.closedReason ?? 'the policy commit changed'}`, r.decisionId, 'Run the statement again: the active policy decides it.');
    case 'withdrawn':
    case 'pending':
      return refused('APPROVAL_REQUIRED', `approval request ${r.id} was withdrawn: ${r.closedReason ?? 'the wait ended'}`, r.decisionId);
    default: {
      const never: never = r.state;
      throw new Error(`unknown request state ${String(never)}`);
    }
  }
}

/** Literals replaced by $n; null when libpg-query cannot normalize the text (no grant covers it then). */
function normalizedOrNull(text: string): string | null {
  try {
    return normalizeSync(text);
  } catch {
    return null;
  }
}

/** A bound value as text: UTF-8 when it reads as such, else hex (binary format). */
function parameterText(value: Buffer | null): string | null {
  if (value === null) return null;
  const text = value.toString('utf8');
  return Buffer.from(text, 'utf8').equals(value) && !/[\u0000-\u0008\u000e-\u001f]/.test(text) ? text : `\\x${value.toString('hex')}`;
}

function minutes(seconds: number): string {
  return seconds % 3600 === 0 ? `${seconds / 3600} h` : seconds % 60 === 0 ? `${seconds / 60} min` : `${seconds} s`;
}
