// One session's approval gate (enforce/approval-gate.ts): lets statements through on grants, or
// opens their requests (within the session's and the identity's caps on pending requests), tells
// the client at once where they are answered (NoticeResponse), waits for the answers and turns them
// into run / 42501 / a timeout error. A cancel or disconnect withdraws them; so does a refusal of
// another statement of the same query string, which fails the whole string anyway.

import { normalizeSync } from 'libpg-query';
import type { ApprovalGate, GateAnswer, GateOutcome, HeldStatementInfo } from '../enforce/approval-gate.ts';
import { GatehouseError, isGatehouseError } from '../errors.ts';
import type { ApprovalRequirements, Identity, SessionInfo } from '../policy/types.ts';
import { answerFor, refused } from './gate-answers.ts';
import { requesterReason } from './requester-reason.ts';
import type { ApprovalService, NewRequest } from './service.ts';
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
  /** Most requests this session may have pending at once (approvals.max_pending_per_session). */
  maxPendingPerSession: number;
  /** Most requests this identity may have pending at once, over all sessions and instances (approvals.max_pending_per_identity). */
  maxPendingPerIdentity: number;
}

export interface SessionGate extends ApprovalGate {
  /** Withdraws every request this session still waits for (CancelRequest, disconnect). */
  withdrawAll(reason: string): void;
}

/** What one statement needs before anything is opened. */
type Plan = { kind: 'granted'; note: string } | { kind: 'refused'; answer: GateAnswer & { kind: 'refused' } } | { kind: 'open'; fields: NewRequest; requirements: ApprovalRequirements };

const SIBLING_REFUSED = 'another statement of the same query string was refused';

export function createSessionGate(o: SessionGateOptions): SessionGate {
  const waiting = new Map<string, AbortController>();
  /** Requests being opened right now: counted against the session's cap with those waiting. */
  let opening = 0;
  /** Bumped by withdrawAll: a hold still opening requests stops and withdraws what it opened. */
  let generation = 0;

  const withdraw = (ids: Iterable<string>, reason: string): void => {
    for (const id of ids) {
      waiting.get(id)?.abort();
      waiting.delete(id);
      void o.service.withdraw(id, reason).catch(() => undefined);
    }
  };

  const noticeFor = (request: ApprovalRequest, requirements: ApprovalRequirements): void => {
    const page = o.pageUrl();
    o.notice({
      message: `Gatehouse is holding this statement for approval: request ${request.id}`,
      detail: `${request.policy.reason}. ${requirements.quorum} approval(s) needed from ${requirements.approvers.join(', ')}; it waits up to ${minutes(requirements.ttlSeconds)} (until ${request.expiresAt}).`,
      hint: page === null ? `Approvers answer with: gatehouse approvals approve ${request.id}` : `Approvers answer at ${page} or with: gatehouse approvals approve ${request.id}`,
    });
  };

  return {
    async hold(statements: readonly HeldStatementInfo[]): Promise<GateOutcome> {
      const started = generation;
      // 1. Grants and refusals first: nothing is opened for a string that fails anyway.
      const plans = await Promise.all(statements.map((s) => planFor(o, s)));
      const refusal = plans.find((p): p is Plan & { kind: 'refused' } => p.kind === 'refused');
      if (refusal !== undefined) return refusal.answer;
      const toOpen = plans.filter((p): p is Plan & { kind: 'open' } => p.kind === 'open');
      // 2. The session's cap: checked and reserved with no await in between.
      const pending = waiting.size + opening;
      if (toOpen.length > 0 && pending + toOpen.length > o.maxPendingPerSession) {
        return refused(
          'APPROVAL_LIMIT',
          `this statement needs ${toOpen.length === 1 ? 'an approval request' : `${toOpen.length} approval requests`}, and this session has ${pending} pending: approvals.max_pending_per_session allows ${o.maxPendingPerSession}, so nothing was held`,
          toOpen[0]!.fields.decisionId,
          `Send fewer statements that need approval at once (at most ${o.maxPendingPerSession} per session), or wait until the pending ones are answered.`,
        );
      }
      // 3. Open them, in order (the identity's cap is checked by the store, under its lock).
      const opened: ApprovalRequest[] = [];
      let left = toOpen.length;
      opening += left;
      try {
        for (const p of toOpen) {
          let request: ApprovalRequest;
          try {
            request = await o.service.open(p.fields, { maxPendingPerIdentity: o.maxPendingPerIdentity });
          } catch (e) {
            withdraw(opened.map((r) => r.id), SIBLING_REFUSED);
            const error = isGatehouseError(e) ? e : new GatehouseError('APPROVAL_REQUIRED', `the approval could not be asked: ${e instanceof Error ? e.message : String(e)}`, { decisionId: p.fields.decisionId });
            return { kind: 'refused', error };
          } finally {
            opening--;
            left--;
          }
          opened.push(request);
          if (generation !== started) {
            // Cancelled or disconnected while opening: nothing of this string waits.
            void o.service.withdraw(request.id, 'the client cancelled or disconnected while it was being held').catch(() => undefined);
            return answerFor({ ...request, state: 'withdrawn', closedReason: 'the client cancelled or disconnected' }, o.activeRevision()) as GateOutcome;
          }
          waiting.set(request.id, new AbortController());
          noticeFor(request, p.requirements);
        }
      } finally {
        opening -= left;
      }
      // 4. Wait for every answer; the first refusal withdraws the others.
      let first: (GateAnswer & { kind: 'refused' }) | null = null;
      const answers = await Promise.all(
        opened.map(async (request) => {
          const abort = waiting.get(request.id);
          let closed: ApprovalRequest | null;
          try {
            closed = abort === undefined ? await o.service.get(request.id) : await o.service.waitForClose(request.id, abort.signal);
          } finally {
            waiting.delete(request.id);
          }
          const answer = answerFor(closed ?? request, o.activeRevision());
          if (answer.kind === 'refused' && first === null) {
            first = answer;
            withdraw(opened.filter((r) => r.id !== request.id && waiting.has(r.id)).map((r) => r.id), SIBLING_REFUSED);
          }
          return answer;
        }),
      );
      if (first !== null) return first;
      let next = 0;
      const notes = plans.map((p) => {
        if (p.kind === 'granted') return p.note;
        const a = answers[next++];
        return a?.kind === 'approved' ? a.note : 'approved';
      });
      return { kind: 'approved', notes };
    },
    withdrawAll(reason: string): void {
      generation++;
      withdraw([...waiting.keys()], reason);
    },
  };
}

/** A grant, a refusal before asking (no requirements, a reason missing), or the request to open. */
async function planFor(o: SessionGateOptions, s: HeldStatementInfo): Promise<Plan> {
  const d = s.decision;
  const requirements = d.approval;
  if (s.input === null || requirements === undefined) {
    return { kind: 'refused', answer: refused('APPROVAL_REQUIRED', `Gatehouse policy requires approval for this statement, but did not say who approves: ${d.reason}`, d.id) };
  }
  const fingerprint = s.input.statement.fingerprint;
  const shape = normalizedOrNull(s.text);
  const grant = await o.service.findGrant({ fingerprint, normalized: shape, subject: o.identity.subject, issuer: o.identity.issuer });
  if (grant !== null) return { kind: 'granted', note: `let through by grant ${grant.id} until ${grant.expiresAt}` };
  const reason = requesterReason(s.queryText) ?? o.reasonSetting?.()?.trim().slice(0, 500) ?? null;
  if (requirements.reasonRequired && reason === null) {
    return {
      kind: 'refused',
      answer: refused('APPROVAL_REQUIRED', `Gatehouse policy requires approval for this statement, with a reason: ${d.reason}`, d.id, "Say why in a comment in the statement, e.g. /* reason: ticket 1234 */ UPDATE ..., or with SET gatehouse.reason = 'ticket 1234' before it, then run it again."),
    };
  }
  return {
    kind: 'open',
    requirements,
    fields: {
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
    },
  };
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
