// An approval store in this process's memory: for a single instance and the demo. JavaScript runs
// one change at a time, so a synchronous change is atomic by construction. Lost at restart.

import type { ApprovalStore, RequestChange } from './store.ts';
import type { ApprovalRequest, Grant, RequestState } from './types.ts';

export function createMemoryStore(): ApprovalStore {
  const requests = new Map<string, ApprovalRequest>();
  const grants = new Map<string, Grant>();
  const copy = <T>(v: T): T => structuredClone(v);
  return {
    kind: 'memory',
    async create(request) {
      if (requests.has(request.id)) throw new Error(`approval request ${request.id} exists already`);
      requests.set(request.id, copy(request));
    },
    async get(id) {
      const r = requests.get(id);
      return r === undefined ? null : copy(r);
    },
    async list(query: { states?: readonly RequestState[]; limit: number }) {
      const all = [...requests.values()].filter((r) => query.states === undefined || query.states.includes(r.state));
      return all.sort(newestFirst).slice(0, query.limit).map(copy);
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
      return [...grants.values()].sort(newestFirst).slice(0, query.limit).map(copy);
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
    async close() {
      // Nothing to release.
    },
  };
}

function newestFirst(a: { createdAt: string }, b: { createdAt: string }): number {
  return a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0;
}
