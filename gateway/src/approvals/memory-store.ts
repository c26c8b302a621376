// An approval store in this process's memory: for a single instance and the demo. JavaScript runs
// one change at a time, so a synchronous change is atomic by construction. Lost at restart.

import { isBefore, newestFirst } from './keyset.ts';
import type { ApprovalStore, RequestChange, RequestFilter, RequestQuery } from './store.ts';
import { samePrincipal } from './transitions.ts';
import type { ApprovalRequest, Grant } from './types.ts';
import { grantVisibleTo, requestVisibleTo } from './visibility.ts';

export function createMemoryStore(): ApprovalStore {
  const requests = new Map<string, ApprovalRequest>();
  const grants = new Map<string, Grant>();
  const copy = <T>(v: T): T => structuredClone(v);
  return {
    kind: 'memory',
    async create(request, admit) {
      if (requests.has(request.id)) throw new Error(`approval request ${request.id} exists already`);
      if (admit !== undefined) {
        const at = Date.parse(request.createdAt);
        let pending = 0;
        for (const r of requests.values()) {
          if (r.state === 'pending' && Date.parse(r.expiresAt) > at && samePrincipal(r.requester, request.requester)) pending++;
        }
        if (!admit(pending)) return false;
      }
      requests.set(request.id, copy(request));
      return true;
    },
    async get(id) {
      const r = requests.get(id);
      return r === undefined ? null : copy(r);
    },
    async list(query: RequestQuery) {
      const before = query.before;
      const all = [...requests.values()].filter((r) => matches(r, query) && (before === undefined || isBefore(r, before)));
      return all.sort(newestFirst).slice(0, query.limit).map(copy);
    },
    async count(filter) {
      let n = 0;
      for (const r of requests.values()) if (matches(r, filter)) n++;
      return n;
    },
    async update<T>(id: string, change: (current: ApprovalRequest) => RequestChange<T>) {
      const current = requests.get(id);
      if (current === undefined) return null;
      const out = change(copy(current));
      if (out.request !== null) requests.set(id, copy(out.request));
      if (out.grant) grants.set(out.grant.id, copy(out.grant));
      return out.result;
    },
    async grants(query) {
      const { visibleTo: viewer, before } = query;
      const all = [...grants.values()].filter(
        (g) => (viewer === undefined || grantVisibleTo(g, requests.get(g.requestId) ?? null, viewer)) && (before === undefined || isBefore(g, before)),
      );
      return all.sort(newestFirst).slice(0, query.limit).map(copy);
    },
    async getGrant(id) {
      const g = grants.get(id);
      return g === undefined ? null : copy(g);
    },
    async grantsFor(fingerprint, subject) {
      return [...grants.values()].filter((g) => g.fingerprint === fingerprint && g.subject === subject).map(copy);
    },
    async updateGrant<T>(id: string, change: (current: Grant) => { grant: Grant | null; result: T }) {
      const current = grants.get(id);
      if (current === undefined) return null;
      const out = change(copy(current));
      if (out.grant !== null) grants.set(id, copy(out.grant));
      return out.result;
    },
    async heartbeat() {
      // One process: its requests live and die with it.
    },
    async markStopped() {
      // As heartbeat.
    },
    async orphaned() {
      return [];
    },
    // One process: notifications are sent from memory (notifications/notifier.ts).
    outbox: false,
    async claimNotifications() {
      return [];
    },
    async finishNotification() {
      // Nothing queued here.
    },
    async close() {
      // Nothing to release.
    },
  };
}

function matches(r: ApprovalRequest, filter: RequestFilter): boolean {
  return (
    (filter.states === undefined || filter.states.includes(r.state)) &&
    (filter.visibleTo === undefined || requestVisibleTo(r, filter.visibleTo)) &&
    (filter.requester === undefined || samePrincipal(r.requester, filter.requester)) &&
    (filter.expiringBy === undefined || Date.parse(r.expiresAt) <= Date.parse(filter.expiringBy))
  );
}
