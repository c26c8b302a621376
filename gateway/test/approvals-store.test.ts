// The PostgreSQL approval store against the real PostgreSQL: two instances share one request, an
// answer on each counts exactly once, and requests and grants survive a restart.

import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { ApprovalService, INSTANCE_STOPPED_REASON } from '../src/approvals/service.ts';
import type { ApprovalStore } from '../src/approvals/store.ts';
import { heldUpdate, person } from '../src/approvals/test-fixtures.ts';
import type { ApprovalAuditRecord } from '../src/audit/types.ts';
import { useApprovalStoreDatabase } from './support/approval-store-database.ts';

const db = useApprovalStoreDatabase('approvals');

async function instance(records: ApprovalAuditRecord[] = []): Promise<{ store: ApprovalStore; service: ApprovalService }> {
  const store = await db.open();
  const service = new ApprovalService({ store, audit: (r) => records.push(r), activeRevision: () => 'rev-1', pollMs: 20 });
  await store.heartbeat(service.instanceId);
  return { store, service };
}

describe('PostgreSQL approval store', () => {
  it('creates its tables in schema gatehouse, idempotently, with instances starting together', async () => {
    await Promise.all([instance(), instance(), instance()]);
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    const tables = await c.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'gatehouse' ORDER BY 1");
    await c.end();
    expect(tables.rows.map((r: { table_name: string }) => r.table_name)).toEqual(['approval_grants', 'approval_instances', 'approval_outbox', 'approval_requests']);
  });

  it('two instances answering at once both count, once each (quorum of two)', async () => {
    const a = await instance();
    const b = await instance();
    const r = await a.service.open(heldUpdate({ requirements: { ...heldUpdate().requirements, quorum: 2 } }));
    const waiting = b.service.waitForClose(r.id);
    const [x, y] = await Promise.all([
      a.service.answer(person('lead-1', ['clinical-leads']), r.id, { verdict: 'approve', comment: 'a', grantSeconds: 0 }),
      b.service.answer(person('lead-2', ['clinical-leads']), r.id, { verdict: 'approve', comment: 'b', grantSeconds: 0 }),
    ]);
    expect([x?.kind, y?.kind]).toEqual(['answered', 'answered']);
    const closed = await waiting;
    expect(closed?.state).toBe('approved');
    expect(closed?.answers.map((ans) => ans.approver.subject).sort()).toEqual(['lead-1', 'lead-2']);
  });

  it('the same person answering on two instances at once counts once', async () => {
    const a = await instance();
    const b = await instance();
    const r = await a.service.open(heldUpdate({ requirements: { ...heldUpdate().requirements, quorum: 2 } }));
    const lead = person('lead-1', ['clinical-leads']);
    const outs = await Promise.all([
      a.service.answer(lead, r.id, { verdict: 'approve', comment: '', grantSeconds: 0 }),
      b.service.answer(lead, r.id, { verdict: 'approve', comment: '', grantSeconds: 0 }),
    ]);
    expect(outs.map((o) => (o?.kind === 'refused' ? o.refusal : o?.kind)).sort()).toEqual(['already_answered', 'answered']);
    expect((await a.service.get(r.id))?.answers).toHaveLength(1);
  });

  it('requests and grants survive a restart; unknown and malformed ids are not found', async () => {
    const first = await instance();
    const r = await first.service.open(heldUpdate());
    await first.service.answer(person('lead-1', ['clinical-leads']), r.id, { verdict: 'approve', comment: '', grantSeconds: 600 });
    await db.close(first.store);
    const again = await instance();
    expect((await again.service.get(r.id))?.state).toBe('approved');
    expect(await again.service.findGrant({ fingerprint: 'fp-update-phone', normalized: 'UPDATE clinical.patients SET phone = $1 WHERE id = $2', subject: 'agent-7', issuer: 'https://idp.test' })).not.toBeNull();
    expect(await again.service.get('not-a-uuid')).toBeNull();
    expect(await again.service.get('00000000-0000-0000-0000-000000000000')).toBeNull();
  });

  it('lists filter what the viewer may see before keeping the newest N (requests and grants)', async () => {
    const { service } = await instance();
    const requirements = heldUpdate().requirements;
    const mine = await service.open(heldUpdate({ requester: { ...heldUpdate().requester, subject: 'agent-visible' } }));
    const grantee = await service.open(heldUpdate({ requester: { ...heldUpdate().requester, subject: 'agent-visible' } }));
    await service.answer(person('lead-1', ['clinical-leads']), grantee.id, { verdict: 'approve', comment: '', grantSeconds: 60 });
    // Newer: requests and grants of another approver group the viewer may not see.
    for (let i = 0; i < 6; i++) {
      const other = await service.open(heldUpdate({ requester: { ...heldUpdate().requester, subject: `flooder-${i}` }, requirements: { ...requirements, approvers: ['pharmacy-leads'] } }));
      if (i < 3) await service.answer(person('pharmacist', ['pharmacy-leads']), other.id, { verdict: 'approve', comment: '', grantSeconds: 60 });
    }
    const lead = person('lead-1', ['clinical-leads']);
    const seen = await service.list(lead, ['pending'], 3);
    expect(seen.map((r) => r.id)).toContain(mine.id);
    expect(seen.every((r) => r.requirements.approvers.includes('clinical-leads'))).toBe(true);
    // By role too, and the requester sees its own.
    expect((await service.list(person('lead-9', [], ['clinical-leads']), ['pending'], 3)).map((r) => r.id)).toContain(mine.id);
    expect((await service.list(person('agent-visible', ['agents']), undefined, 2)).map((r) => r.id).sort()).toEqual([mine.id, grantee.id].sort());
    expect((await service.list(person('nobody', ['agents']), ['pending'], 50)).filter((r) => r.id === mine.id)).toEqual([]);
    const grants = await service.grantsVisibleTo(lead, 2);
    expect(grants.map((g) => g.requestId)).toContain(grantee.id);
    expect(grants.every((g) => g.requestId === grantee.id || g.grantedBy.some((p) => p.subject === 'lead-1'))).toBe(true);
    expect((await service.grantsVisibleTo(person('agent-visible', []), 1)).map((g) => g.requestId)).toEqual([grantee.id]);
    expect((await service.grantsVisibleTo(person('pharmacist', []), 1)).map((g) => g.grantedBy[0]?.subject)).toEqual(['pharmacist']);
    expect(await service.grantsVisibleTo(person('nobody', ['agents']), 50)).toEqual([]);
    await service.withdraw(mine.id, 'test over');
  });

  it('an identity cap holds across instances opening at once: exactly the cap is opened, the rest get 53400', async () => {
    const a = await instance();
    const b = await instance();
    const requester = { ...heldUpdate().requester, subject: 'agent-capped' };
    const outs = await Promise.all(
      [a, b, a, b, a, b, a, b].map((x) => x.service.open(heldUpdate({ requester }), { maxPendingPerIdentity: 3 }).then((r) => r.id, (e: { code?: string; sqlstate?: string }) => `${e.code}/${e.sqlstate}`)),
    );
    expect(outs.filter((o) => o === 'APPROVAL_LIMIT/53400')).toHaveLength(5);
    const pending = await a.service.list(person('agent-capped'), ['pending'], 50);
    expect(pending).toHaveLength(3);
    // Closed or expired requests no longer count.
    await a.service.withdraw(pending[0]!.id, 'test');
    expect((await b.service.open(heldUpdate({ requester }), { maxPendingPerIdentity: 3 })).state).toBe('pending');
    const other = await a.service.open(heldUpdate({ requester: { ...requester, subject: 'agent-uncapped' } }), { maxPendingPerIdentity: 3 });
    expect(other.state).toBe('pending');
  });

  it('requests of an instance that stopped, or whose heartbeat went stale, are withdrawn by a live one; its own never', async () => {
    const records: ApprovalAuditRecord[] = [];
    const live = await instance(records);
    const stopping = await instance();
    const silent = await instance();
    const own = await live.service.open(heldUpdate());
    const ofStopping = await stopping.service.open(heldUpdate());
    const ofSilent = await silent.service.open(heldUpdate());
    expect([own, ofStopping, ofSilent].map((r) => r.instanceId)).toEqual([live.service.instanceId, stopping.service.instanceId, silent.service.instanceId]);
    // All beating: nothing is an orphan.
    expect(await live.service.withdrawOrphans(3600)).toBe(0);
    await stopping.store.markStopped(stopping.service.instanceId);
    expect(await live.service.withdrawOrphans(3600)).toBe(1);
    expect((await live.service.get(ofStopping.id))?.state).toBe('withdrawn');
    expect((await live.service.get(ofStopping.id))?.closedReason).toBe(INSTANCE_STOPPED_REASON);
    expect(records.filter((r) => r.request_id === ofStopping.id).map((r) => r.event)).toEqual(['withdrawn']);
    // Silent for more than a second (it no longer beats), with a one-second timeout.
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    await c.query("UPDATE gatehouse.approval_instances SET heartbeat_at = now() - interval '2 seconds' WHERE id = ANY($1)", [[silent.service.instanceId, live.service.instanceId]]);
    await c.end();
    expect((await silent.service.get(ofSilent.id))?.state).toBe('pending');
    // (Earlier tests' instances have gone quiet too: count only this one.)
    expect(await live.service.withdrawOrphans(1)).toBeGreaterThanOrEqual(1);
    expect((await live.service.get(ofSilent.id))?.state).toBe('withdrawn');
    // Its own requests stay, however stale its own heartbeat looks.
    expect((await live.service.get(own.id))?.state).toBe('pending');
    // A heartbeat after a stop (a restart with the same id) makes it live again.
    await stopping.store.heartbeat(stopping.service.instanceId);
    const again = await stopping.service.open(heldUpdate());
    expect(await live.service.withdrawOrphans(3600)).toBe(0);
    await live.service.withdraw(own.id, 'test over');
    await stopping.service.withdraw(again.id, 'test over');
  });
});
