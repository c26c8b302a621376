// The narrow interface every approval store implements (memory-store.ts for one instance and the
// demo, postgres-store.ts shared by several instances). A change runs under the store's lock on
// that one request, so two answers given at once on two instances both count, exactly once.

import type { ApprovalRequest, Grant, RequestState } from './types.ts';

/** What a change to one request decides: the request to save (null: leave it), and a grant to add. */
export interface RequestChange<T> {
  request: ApprovalRequest | null;
  grant?: Grant | null;
  result: T;
}

export interface ApprovalStore {
  readonly kind: 'memory' | 'postgres';
  /** Adds a new (pending) request. */
  create(request: ApprovalRequest): Promise<void>;
  get(id: string): Promise<ApprovalRequest | null>;
  /** Newest first. */
  list(query: { states?: readonly RequestState[]; limit: number }): Promise<ApprovalRequest[]>;
  /**
   * Reads the request under a lock, runs `change` (synchronous, no I/O) on it and saves what it
   * returns before the lock is released. Null when there is no such request.
   */
  update<T>(id: string, change: (current: ApprovalRequest) => RequestChange<T>): Promise<T | null>;
  /** Newest first. */
  grants(query: { limit: number }): Promise<Grant[]>;
  getGrant(id: string): Promise<Grant | null>;
  /** Grants for this fingerprint and subject, revoked ones included (the caller checks them). */
  grantsFor(fingerprint: string, subject: string): Promise<Grant[]>;
  /** Runs `change` on one grant under a lock; null when there is no such grant. */
  updateGrant<T>(id: string, change: (current: Grant) => { grant: Grant | null; result: T }): Promise<T | null>;
  close(): Promise<void>;
}
