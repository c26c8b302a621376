// The paging contract every approval store keeps (keyset.ts), run by memory-store.test.ts and
// postgres-store.test.ts: newest first by (createdAt, id), a page strictly before its cursor, every
// filter applied before the limit, and counts that ignore the limit.

import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { newestFirst, pageOf, type PageCursor } from './keyset.ts';
import type { ApprovalStore, GrantQuery, RequestQuery } from './store.ts';
import { heldUpdate, person } from './test-fixtures.ts';
import type { ApprovalRequest, Grant, RequestState } from './types.ts';

const BASE = Date.parse('2026-11-01T08:00:00Z');

/** A stored request made `minute` minutes after BASE (several share a minute: the id breaks the tie). */
function request(minute: number, state: RequestState, approvers: string[] = ['clinical-leads']): ApprovalRequest {
  const fields = heldUpdate();
  const createdAt = new Date(BASE + minute * 60_000).toISOString();
  return {
    ...fields,
    requirements: { ...fields.requirements, approvers },
    id: randomUUID(),
    instanceId: null,
    state,
    createdAt,
    expiresAt: new Date(BASE + minute * 60_000 + 3_600_000).toISOString(),
    closedAt: state === 'pending' ? null : createdAt,
    closedReason: null,
    answers: [],
    grantId: null,
  };
}

function grantFor(r: ApprovalRequest, subject: string): Grant {
  return {
    id: randomUUID(),
    requestId: r.id,
    fingerprint: r.statement.fingerprint,
    normalized: r.statement.normalized,
    subject,
    issuer: 'https://idp.test',
    revision: 'rev-1',
    createdAt: r.createdAt,
    expiresAt: r.expiresAt,
    grantedBy: [{ subject: 'lead-1', issuer: 'https://idp.test', name: null }],
    revokedAt: null,
    revokedBy: null,
  };
}

/** Every page of a list, walked with the cursor of the previous one, as the API does. */
async function walk<T extends { id: string; createdAt: string }>(read: (before: PageCursor | undefined, limit: number) => Promise<T[]>, size: number): Promise<T[][]> {
  const pages: T[][] = [];
  let before: PageCursor | undefined;
  for (;;) {
    const page = pageOf(await read(before, size + 1), size);
    pages.push(page.items);
    if (page.next === null) return pages;
    before = page.next;
    if (pages.length > 100) throw new Error('paging does not end');
  }
}

/** `open` gives a store with no requests and no grants. */
export function describeStorePaging(name: string, open: () => Promise<ApprovalStore>): void {
  describe(`${name} store: keyset paging`, () => {
    it('walks every request once, newest first, ties broken by id, filters applied before the limit', async () => {
      const store = await open();
      const closed: ApprovalRequest[] = [];
      const others: ApprovalRequest[] = [];
      // 11 closed requests visible to clinical-leads over 5 distinct times (ties), interleaved with
      // pending ones and with closed ones for another approver group.
      for (let i = 0; i < 11; i++) closed.push(request(Math.floor(i / 3), i % 2 === 0 ? 'approved' : 'denied'));
      for (let i = 0; i < 6; i++) others.push(request(i, 'pending'), request(i, 'expired', ['pharmacy-leads']));
      for (const r of [...others, ...closed].sort(() => Math.random() - 0.5)) expect(await store.create(r)).toBe(true);

      const lead = person('lead-1', ['clinical-leads']);
      const query = (before: PageCursor | undefined, limit: number): RequestQuery => ({
        states: ['approved', 'denied', 'expired', 'withdrawn', 'void'],
        visibleTo: lead,
        limit,
        ...(before === undefined ? {} : { before }),
      });
      const pages = await walk((before, limit) => store.list(query(before, limit)), 4);
      expect(pages.map((p) => p.length)).toEqual([4, 4, 3]);
      const expected = [...closed].sort(newestFirst).map((r) => r.id);
      expect(pages.flat().map((r) => r.id)).toEqual(expected);
      // The same order as one unpaged list, and a page strictly before its cursor (the cursor's own row excluded).
      expect((await store.list(query(undefined, 100))).map((r) => r.id)).toEqual(expected);
      const third = [...closed].sort(newestFirst)[2]!;
      expect((await store.list(query({ createdAt: third.createdAt, id: third.id }, 100))).map((r) => r.id)).toEqual(expected.slice(3));
      // A cursor past the oldest: an empty page.
      expect(await store.list(query({ createdAt: '2000-01-01T00:00:00.000Z', id: randomUUID() }, 10))).toEqual([]);

      expect(await store.count({ states: ['pending'], visibleTo: lead })).toBe(6);
      expect(await store.count({ states: ['approved', 'denied', 'expired'], visibleTo: lead })).toBe(11);
      expect(await store.count({ visibleTo: person('pharmacist', ['pharmacy-leads']) })).toBe(6);
      expect(await store.count({ visibleTo: person('nobody', ['nurses']) })).toBe(0);
      await store.close();
    });

    it('walks the grants a viewer may see, newest first, before the limit', async () => {
      const store = await open();
      const mine: Grant[] = [];
      for (let i = 0; i < 7; i++) {
        const r = request(Math.floor(i / 2), 'approved');
        const theirs = request(Math.floor(i / 2), 'approved', ['pharmacy-leads']);
        await store.create(r);
        await store.create(theirs);
        const g = grantFor(r, 'agent-7');
        mine.push(g);
        await store.update(r.id, () => ({ request: null, grant: g, result: null }));
        await store.update(theirs.id, () => ({ request: null, grant: grantFor(theirs, 'agent-8'), result: null }));
      }
      const query = (before: PageCursor | undefined, limit: number): GrantQuery => ({ visibleTo: person('lead-2', ['clinical-leads']), limit, ...(before === undefined ? {} : { before }) });
      const pages = await walk((before, limit) => store.grants(query(before, limit)), 3);
      expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
      expect(pages.flat().map((g) => g.id)).toEqual([...mine].sort(newestFirst).map((g) => g.id));
      // Without a viewer: all fourteen, in the same order as one list.
      const all = await walk((before, limit) => store.grants({ limit, ...(before === undefined ? {} : { before }) }), 5);
      expect(all.flat().map((g) => g.id)).toEqual((await store.grants({ limit: 100 })).map((g) => g.id));
      expect(all.flat()).toHaveLength(14);
      await store.close();
    });
  });
}
