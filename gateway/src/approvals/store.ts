// The narrow interface every approval store implements (memory-store.ts for one instance and the
// demo, postgres-store.ts shared by several instances). A change runs under the store's lock on
// that one request, so two answers given at once on two instances both count, exactly once.

import type { PageCursor } from './keyset.ts';
import type { NotificationKind } from './notifications/event.ts';
import type { ApprovalRequest, Grant, RequestState } from './types.ts';
import type { Viewer } from './visibility.ts';

/** What a change to one request decides: the request to save (null: leave it), and a grant to add. */
export interface RequestChange<T> {
  request: ApprovalRequest | null;
  grant?: Grant | null;
  /** The step this change announces (a store with a notification outbox queues it in the same transaction). */
  announce?: NotificationKind | null;
  result: T;
}

/** One notification to one target, queued in the shared store with the change it announces. */
export interface OutboxItem {
  /** Also the delivery id receivers see: the same in every attempt, whichever instance sends it. */
  id: string;
  /** notifications/notifier.ts targetKey: which configured target. */
  target: string;
  kind: NotificationKind;
  request: ApprovalRequest;
  /** Attempts made so far, this one included. */
  attempts: number;
  createdAt: string;
}

/** Which requests a list returns: every filter applies before `limit` keeps the newest. */
export interface RequestQuery extends RequestFilter {
  /** Only those strictly older than this, in (createdAt, id) newest-first order (keyset.ts). */
  before?: PageCursor;
  limit: number;
}

/** Which requests a list or a count takes. */
export interface RequestFilter {
  states?: readonly RequestState[];
  /** Only those this viewer may see (visibility.ts requestVisibleTo). */
  visibleTo?: Viewer;
  /** Only those whose TTL ends at or before this ISO time. */
  expiringBy?: string;
  /** Only those this identity made. */
  requester?: { subject: string; issuer: string };
}

/** Which grants a list returns: newest first, filtered before `limit` as RequestQuery. */
export interface GrantQuery {
  /** Only the grants this viewer may see (visibility.ts grantVisibleTo). */
  visibleTo?: Viewer;
  /** Only those strictly older than this, in (createdAt, id) newest-first order (keyset.ts). */
  before?: PageCursor;
  limit: number;
}

export interface ApprovalStore {
  readonly kind: 'memory' | 'postgres';
  /**
   * Adds a new (pending) request unless `admit`, told how many pending requests its requester
   * (subject and issuer) has that have not expired at the new request's creation time, says no.
   * Counting and adding run under one lock per requester, so concurrent sessions of one identity,
   * on any instance, cannot pass a cap together. `admit` is synchronous and does no I/O.
   */
  create(request: ApprovalRequest, admit?: (pendingOfRequester: number) => boolean): Promise<boolean>;
  get(id: string): Promise<ApprovalRequest | null>;
  /** Newest first: createdAt, then id, descending (keyset.ts newestFirst). */
  list(query: RequestQuery): Promise<ApprovalRequest[]>;
  /** How many requests the filter takes (no limit). */
  count(filter: RequestFilter): Promise<number>;
  /**
   * Reads the request under a lock, runs `change` (synchronous, no I/O) on it and saves what it
   * returns before the lock is released. Null when there is no such request.
   */
  update<T>(id: string, change: (current: ApprovalRequest) => RequestChange<T>): Promise<T | null>;
  /** Newest first as list; with `visibleTo`, only the grants that viewer may see, filtered before the limit. */
  grants(query: GrantQuery): Promise<Grant[]>;
  getGrant(id: string): Promise<Grant | null>;
  /** Grants for this fingerprint and subject, revoked ones included (the caller checks them). */
  grantsFor(fingerprint: string, subject: string): Promise<Grant[]>;
  /** Runs `change` on one grant under a lock; null when there is no such grant. */
  updateGrant<T>(id: string, change: (current: Grant) => { grant: Grant | null; result: T }): Promise<T | null>;
  /** This instance is alive (shared stores keep the time by their own clock; the memory store ignores it). */
  heartbeat(instanceId: string): Promise<void>;
  /** This instance stops: its pending requests are orphans at once, not after its heartbeat goes stale. */
  markStopped(instanceId: string): Promise<void>;
  /**
   * Pending requests held by instances other than `self` that stopped, or whose last heartbeat is
   * more than `staleAfterSeconds` old; at most `limit`. Always none in the memory store (one process).
   */
  orphaned(self: string, staleAfterSeconds: number, limit: number): Promise<ApprovalRequest[]>;
  /** Whether changes queue their notifications here (outbox) rather than announcing them in memory. */
  readonly outbox: boolean;
  /**
   * Claims up to `limit` queued notifications that are due, for these targets, for `leaseSeconds`
   * (another instance takes one over when its lease ends unfinished: at-least-once), counting one
   * attempt each.
   */
  claimNotifications(targets: readonly string[], limit: number, leaseSeconds: number): Promise<OutboxItem[]>;
  /** Ends a claimed notification (sent, or failed for good), or schedules its next attempt. */
  finishNotification(id: string, result: { outcome: 'sent' | 'failed'; error?: string } | { retryInMs: number; error: string } | { release: true }): Promise<void>;
  close(): Promise<void>;
}
