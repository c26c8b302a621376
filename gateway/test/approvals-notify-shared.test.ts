// Which instance announces what, when several share the PostgreSQL approval store: the one that made
// the change (opened the request, took the closing answer, or closed it), so each step is announced
// once even when every instance's sweeper expires the same request at the same time.

import { describe, expect, it } from 'vitest';
import type { ApprovalEvent } from '../src/approvals/notifications/event.ts';
import { ApprovalService } from '../src/approvals/service.ts';
import { heldUpdate, person } from '../src/approvals/test-fixtures.ts';
import { useApprovalStoreDatabase } from './support/approval-store-database.ts';

const db = useApprovalStoreDatabase('notify');
const events: Array<{ instance: string; kind: ApprovalEvent['kind']; id: string }> = [];

async function instance(name: string, now: () => Date = () => new Date()): Promise<ApprovalService> {
  const store = await db.open();
  return new ApprovalService({ store, audit: () => undefined, activeRevision: () => 'rev-1', pollMs: 20, now, onEvent: (e) => events.push({ instance: name, kind: e.kind, id: e.request.id }) });
}

describe('notifications with a shared PostgreSQL store', () => {
  it('the instance that opens a request announces it; the one that takes the closing answer announces that', async () => {
    const a = await instance('a');
    const b = await instance('b');
    const r = await a.open(heldUpdate({ requirements: { ...heldUpdate().requirements, quorum: 2 } }));
    expect(await b.answer(person('lead-1', ['clinical-leads']), r.id, { verdict: 'approve', comment: '', grantSeconds: 0 })).toMatchObject({ kind: 'answered' });
    // Quorum not reached yet: nothing to announce.
    expect(events.filter((e) => e.id === r.id)).toEqual([{ instance: 'a', kind: 'requested', id: r.id }]);
    expect(await a.answer(person('lead-2', ['clinical-leads']), r.id, { verdict: 'approve', comment: '', grantSeconds: 0 })).toMatchObject({ kind: 'answered' });
    // A late answer on the other instance changes nothing and announces nothing.
    expect(await b.answer(person('lead-3', ['clinical-leads']), r.id, { verdict: 'deny', comment: '', grantSeconds: 0 })).toMatchObject({ kind: 'refused', refusal: 'not_pending' });
    expect(events.filter((e) => e.id === r.id)).toEqual([
      { instance: 'a', kind: 'requested', id: r.id },
      { instance: 'a', kind: 'approved', id: r.id },
    ]);
  });

  it('three instances expiring the same requests at once announce each expiry once', async () => {
    let clock = Date.now();
    const now = (): Date => new Date(clock);
    const services = [await instance('x', now), await instance('y', now), await instance('z', now)];
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await services[i % 3]!.open(heldUpdate({ requirements: { ...heldUpdate().requirements, ttlSeconds: 60 } }))).id);
    clock += 61_000;
    await Promise.all(services.map((s) => s.expireDue()));
    const expired = events.filter((e) => ids.includes(e.id) && e.kind === 'expired');
    expect(expired.map((e) => e.id).sort()).toEqual([...ids].sort());
  });
});
