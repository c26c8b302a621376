// The one approval model behind every channel (held statements, the HTTP API and page, the CLI):
// opens requests, applies answers with the transition rules, closes requests that expire, are
// withdrawn or outlive their policy commit, finds and revokes grants, and audits every step.

import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import type { ApprovalAuditRecord } from '../audit/types.ts';
import { AUDIT_RECORD_VERSION } from '../audit/types.ts';
import { GatehouseError } from '../errors.ts';
import type { Identity } from '../policy/types.ts';
import { pageOf, type Page, type PageCursor } from './keyset.ts';
import { closingKind, type ApprovalEvent } from './notifications/event.ts';
import type { ApprovalStore } from './store.ts';
import { applyAnswer, close, grantCovers, isExpired, mayAnswer, principalOf, type AnswerInput, type AnswerOutcome } from './transitions.ts';
import type { ApprovalRequest, Grant, Principal, RequestState } from './types.ts';
import type { Viewer } from './visibility.ts';

export interface ApprovalServiceOptions {
  store: ApprovalStore;
  /** Writes an audit record before the change it describes is saved; throws when it cannot. */
  audit: (record: ApprovalAuditRecord) => void;
  /** The policy commit deciding now: requests and grants from another commit are void. */
  activeRevision: () => string;
  now?: () => Date;
  /** How often a waiter re-reads a request changed by another instance (default 1000 ms). */
  pollMs?: number;
  /**
   * Told after a request is opened or closed and saved, by the instance that made that change
   * (one locked change per request and step, so one instance): notifications (sent from memory, or,
   * when the store has an outbox, already queued with the change). Never throws back.
   */
  onEvent?: (event: ApprovalEvent) => void;
  /** This instance's id, recorded in the requests it opens and kept alive by its heartbeat (default: a new UUID). */
  instanceId?: string;
}

/** What a held statement brings to open a request. */
export type NewRequest = Omit<ApprovalRequest, 'id' | 'state' | 'createdAt' | 'expiresAt' | 'closedAt' | 'closedReason' | 'answers' | 'grantId' | 'instanceId'>;

/** Why a request is withdrawn when the instance holding its statement stopped (reconnect-notice.ts tells the client). */
export const INSTANCE_STOPPED_REASON = 'the Gatehouse instance holding its statement stopped';

export class ApprovalService {
  private readonly store: ApprovalStore;
  private readonly now: () => Date;
  private readonly changed = new EventEmitter();
  /** This instance, as its heartbeat and its requests name it. */
  readonly instanceId: string;

  constructor(private readonly options: ApprovalServiceOptions) {
    this.store = options.store;
    this.now = options.now ?? (() => new Date());
    this.changed.setMaxListeners(0);
    this.instanceId = options.instanceId ?? randomUUID();
  }

  /**
   * Opens a request. With `maxPendingPerIdentity`, a requester who already has that many pending
   * requests (any session, any instance sharing the store) gets APPROVAL_LIMIT instead (53400).
   */
  async open(fields: NewRequest, limits: { maxPendingPerIdentity?: number } = {}): Promise<ApprovalRequest> {
    const now = this.now();
    const request: ApprovalRequest = {
      ...fields,
      id: randomUUID(),
      instanceId: this.instanceId,
      state: 'pending',
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + fields.requirements.ttlSeconds * 1000).toISOString(),
      closedAt: null,
      closedReason: null,
      answers: [],
      grantId: null,
    };
    const max = limits.maxPendingPerIdentity;
    let pending = 0;
    const created = await this.store.create(request, (n) => {
      pending = n;
      if (max !== undefined && n >= max) return false;
      // Written before the request is saved; a throw here leaves nothing saved.
      this.audit(request, 'requested', null, request.requesterReason === null ? {} : { reason: request.requesterReason });
      return true;
    });
    if (!created) {
      throw new GatehouseError('APPROVAL_LIMIT', `${request.requester.subject} already has ${pending} pending approval requests, the most approvals.max_pending_per_identity allows, so this statement was not held`, {
        decisionId: request.decisionId,
        hint: 'Wait until your pending requests are answered or expire (or withdraw them by cancelling their statements), then run it again.',
      });
    }
    this.announce('requested', request);
    return request;
  }

  /** Applies one answer; null when there is no such request. */
  async answer(identity: Identity, id: string, input: AnswerInput): Promise<AnswerOutcome | null> {
    const now = this.now();
    const outcome = await this.store.update<AnswerOutcome>(id, (current) => {
      const out = applyAnswer(current, identity, input, now);
      if (out.kind === 'refused') {
        // An answer arriving after the TTL closes the request as expired.
        if (out.refusal === 'expired') this.audit(out.request, 'expired', null, { reason: out.request.closedReason ?? 'expired' });
        return { request: out.refusal === 'expired' ? out.request : null, announce: out.refusal === 'expired' ? 'expired' : null, result: out };
      }
      const answer = out.request.answers[out.request.answers.length - 1]!;
      this.audit(out.request, 'answered', answer.approver, { verdict: answer.verdict, comment: answer.comment });
      if (out.request.state !== 'pending') {
        const extra = out.grant === null ? {} : { grant: { id: out.grant.id, expires_at: out.grant.expiresAt } };
        this.audit(out.request, out.request.state === 'approved' ? 'approved' : 'denied', answer.approver, extra);
      }
      return { request: out.request, grant: out.grant, announce: closingKind(out.request.state), result: out };
    });
    if (outcome !== null) {
      this.changed.emit(id);
      // Answered to a close, or refused because its TTL had passed (closed as expired then).
      if (outcome.kind === 'answered' || outcome.refusal === 'expired') this.announce(closingKind(outcome.request.state), outcome.request);
    }
    return outcome;
  }

  /** Closes a pending request as withdrawn (the client cancelled or disconnected). */
  async withdraw(id: string, reason: string): Promise<ApprovalRequest | null> {
    return this.closeOne(id, 'withdrawn', reason);
  }

  /** Closes every pending request whose TTL passed; returns how many. */
  async expireDue(): Promise<number> {
    const now = this.now();
    let n = 0;
    for (const r of await this.store.list({ states: ['pending'], expiringBy: now.toISOString(), limit: 1000 })) {
      if (isExpired(r, now) && (await this.closeOne(r.id, 'expired', 'no answer before the TTL passed'))?.state === 'expired') n++;
    }
    return n;
  }

  /** Closes every pending request asked for by another policy commit than `revision`; returns how many. */
  async voidStale(revision: string): Promise<number> {
    let n = 0;
    for (const r of await this.store.list({ states: ['pending'], limit: 1000 })) {
      if (r.policy.revision !== revision && (await this.closeOne(r.id, 'void', `the policy commit changed from ${r.policy.revision} to ${revision}`))?.state === 'void') n++;
    }
    return n;
  }

  /**
   * Withdraws every pending request held by another instance that stopped, or whose heartbeat is
   * older than `staleAfterSeconds` (its statement lived in that instance's sessions, which are gone);
   * returns how many.
   */
  async withdrawOrphans(staleAfterSeconds: number): Promise<number> {
    let n = 0;
    for (const r of await this.store.orphaned(this.instanceId, staleAfterSeconds, 1000)) {
      if ((await this.closeOne(r.id, 'withdrawn', INSTANCE_STOPPED_REASON))?.state === 'withdrawn') n++;
    }
    return n;
  }

  /** Re-reads the request (expiring it when its TTL passed). */
  async get(id: string): Promise<ApprovalRequest | null> {
    const r = await this.store.get(id);
    if (r !== null && isExpired(r, this.now())) return this.closeOne(id, 'expired', 'no answer before the TTL passed');
    return r;
  }

  /** The newest `limit` requests the viewer may answer or made (filtered before the limit), newest first. */
  async list(viewer: Viewer, states?: readonly RequestState[], limit = 200): Promise<ApprovalRequest[]> {
    return (await this.requestPage(viewer, { ...(states === undefined ? {} : { states }), limit })).items;
  }

  /**
   * One page of the requests the viewer may answer or made (filtered before the limit), newest
   * first, strictly older than `before`; with `count`, also how many there are over all pages.
   */
  async requestPage(
    viewer: Viewer,
    q: { states?: readonly RequestState[]; limit: number; before?: PageCursor; count?: boolean },
  ): Promise<Page<ApprovalRequest> & { total: number | null }> {
    await this.expireDue();
    const filter = q.states === undefined ? { visibleTo: viewer } : { states: q.states, visibleTo: viewer };
    const rows = await this.store.list({ ...filter, limit: q.limit + 1, ...(q.before === undefined ? {} : { before: q.before }) });
    const total = q.count === true ? await this.store.count(filter) : null;
    return { ...pageOf(rows, q.limit), total };
  }

  /** Resolves once the request is closed (or the signal aborts, with the request as it stands). */
  async waitForClose(id: string, signal?: AbortSignal): Promise<ApprovalRequest | null> {
    const pollMs = this.options.pollMs ?? 1000;
    for (;;) {
      const r = await this.get(id);
      if (r === null || r.state !== 'pending' || signal?.aborted) return r;
      const ttlLeft = Math.max(0, Date.parse(r.expiresAt) - this.now().getTime());
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          this.changed.off(id, done);
          signal?.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, Math.min(pollMs, ttlLeft + 5));
        this.changed.on(id, done);
        signal?.addEventListener('abort', done);
      });
    }
  }

  /** This identity's own withdrawn requests, newest first, at most `limit`. */
  async withdrawnFor(identity: Pick<Identity, 'subject' | 'issuer'>, limit: number): Promise<ApprovalRequest[]> {
    return this.store.list({ states: ['withdrawn'], limit, requester: { subject: identity.subject, issuer: identity.issuer } });
  }

  /** A grant that lets this statement through now, under the active policy commit; null when none. */
  async findGrant(q: { fingerprint: string; normalized: string | null; subject: string; issuer: string }): Promise<Grant | null> {
    const now = this.now();
    const revision = this.options.activeRevision();
    const grants = await this.store.grantsFor(q.fingerprint, q.subject);
    return grants.find((g) => grantCovers(g, { ...q, revision }, now)) ?? null;
  }

  async grants(limit = 200): Promise<Grant[]> {
    return this.store.grants({ limit });
  }

  /** The newest `limit` grants the viewer may see: those it holds or gave, and those of requests it may answer. */
  async grantsVisibleTo(viewer: Viewer, limit = 200): Promise<Grant[]> {
    return (await this.grantPage(viewer, { limit })).items;
  }

  /** One page of the grants the viewer may see (as grantsVisibleTo), newest first, strictly older than `before`. */
  async grantPage(viewer: Viewer, q: { limit: number; before?: PageCursor }): Promise<Page<Grant>> {
    const rows = await this.store.grants({ limit: q.limit + 1, visibleTo: viewer, ...(q.before === undefined ? {} : { before: q.before }) });
    return pageOf(rows, q.limit);
  }

  /**
   * Revokes a grant: its granters, and members of the groups that may answer its request, may.
   * 'forbidden' when the identity is neither; null when there is no such grant.
   */
  async revokeGrant(identity: Identity, id: string, comment: string): Promise<{ kind: 'revoked'; grant: Grant } | { kind: 'forbidden' } | { kind: 'already_revoked' } | null> {
    const probe = await this.store.getGrant(id);
    if (probe === null) return null;
    const request = await this.store.get(probe.requestId);
    const actor = principalOf(identity);
    const allowed = probe.grantedBy.some((p) => p.subject === actor.subject && p.issuer === actor.issuer) || (request !== null && mayAnswer(request, identity));
    if (!allowed) return { kind: 'forbidden' };
    const now = this.now();
    type Revoked = { kind: 'revoked'; grant: Grant } | { kind: 'already_revoked' };
    return this.store.updateGrant<Revoked>(id, (g) => {
      if (g.revokedAt !== null) return { grant: null, result: { kind: 'already_revoked' } };
      const revoked: Grant = { ...g, revokedAt: now.toISOString(), revokedBy: actor };
      if (request !== null) this.audit(request, 'grant_revoked', actor, { comment, grant: { id: g.id, expires_at: g.expiresAt } });
      return { grant: revoked, result: { kind: 'revoked', grant: revoked } };
    });
  }

  private async closeOne(id: string, state: 'expired' | 'withdrawn' | 'void', reason: string): Promise<ApprovalRequest | null> {
    const now = this.now();
    let closedHere = false;
    const out = await this.store.update(id, (current) => {
      const closed = close(current, state, reason, now);
      if (closed === current) return { request: null, result: current };
      this.audit(closed, state, null, { reason });
      closedHere = true;
      return { request: closed, announce: state, result: closed };
    });
    this.changed.emit(id);
    if (closedHere && out !== null) this.announce(state, out);
    return out;
  }

  /** Tells onEvent about a request just opened or closed here (kind null: still pending, nothing to tell). */
  private announce(kind: ApprovalEvent['kind'] | null, request: ApprovalRequest): void {
    if (kind === null || this.options.onEvent === undefined) return;
    try {
      this.options.onEvent({ kind, request });
    } catch {
      // A notification never undoes or blocks the change it announces.
    }
  }

  private audit(request: ApprovalRequest, event: ApprovalAuditRecord['event'], actor: Principal | null, extra: Partial<ApprovalAuditRecord>): void {
    this.options.audit({
      v: AUDIT_RECORD_VERSION,
      type: 'approval',
      time: this.now().toISOString(),
      event,
      request_id: request.id,
      decision_id: request.decisionId,
      session_id: request.sessionId,
      fingerprint: request.statement.fingerprint,
      revision: request.policy.revision,
      actor,
      state: request.state,
      ...extra,
    });
  }
}
