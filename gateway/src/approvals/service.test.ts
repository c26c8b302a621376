import { describe, expect, it } from 'vitest';
import type { ApprovalAuditRecord } from '../audit/types.ts';
import { createMemoryStore } from './memory-store.ts';
import { ApprovalService } from './service.ts';
import { heldUpdate, person } from './test-fixtures.ts';

function setup(start = Date.parse('2026-12-05T06:00:00Z')) {
  let clock = start;
  let revision = 'rev-1';
  const records: ApprovalAuditRecord[] = [];
  const service = new ApprovalService({
    store: createMemoryStore(),
    audit: (r) => records.push(r),
    activeRevision: () => revision,
    now: () => new Date(clock),
    pollMs: 5,
  });
  return {
    service,
    records,
    advance: (seconds: number) => (clock += seconds * 1000),
    setRevision: (r: string) => (revision = r),
  };
}

const lead = person('lead-1', ['clinical-leads']);
const lead2 = person('lead-2', [], ['clinical-leads']);
const outsider = person('nurse-1', ['nurses']);

describe('ApprovalService', () => {
  it('opens a pending request that expires after the policy TTL, and audits it', async () => {
    const { service, records } = setup();
    const r = await service.open(heldUpdate());
    expect(r).toMatchObject({ state: 'pending', createdAt: '2026-12-05T06:00:00.000Z', expiresAt: '2026-12-05T07:00:00.000Z', answers: [] });
    expect(records.map((x) => [x.event, x.request_id, x.decision_id, x.revision])).toEqual([['requested', r.id, 'decision-1', 'rev-1']]);
    expect(records[0]?.reason).toBe('fix a typo the patient reported');
  });

  it('refuses self-answers, outsiders and a second answer by the same person', async () => {
    const { service } = setup();
    const r = await service.open(heldUpdate({ requirements: { ...heldUpdate().requirements, quorum: 2, approvers: ['agents', 'clinical-leads'] } }));
    const self = await service.answer(person('agent-7', ['agents']), r.id, { verdict: 'approve', comment: '', grantSeconds: 0 });
    expect(self).toMatchObject({ kind: 'refused', refusal: 'self_answer' });
    expect(await service.answer(outsider, r.id, { verdict: 'approve', comment: '', grantSeconds: 0 })).toMatchObject({ kind: 'refused', refusal: 'not_an_approver' });
    expect(await service.answer(lead, r.id, { verdict: 'approve', comment: 'ok', grantSeconds: 0 })).toMatchObject({ kind: 'answered', request: { state: 'pending' } });
    expect(await service.answer(lead, r.id, { verdict: 'approve', comment: 'again', grantSeconds: 0 })).toMatchObject({ kind: 'refused', refusal: 'already_answered' });
    expect((await service.get(r.id))?.answers).toHaveLength(1);
  });

  it('approves at quorum of distinct approvers (a role counts like a group), audited per answer', async () => {
    const { service, records } = setup();
    const r = await service.open(heldUpdate({ requirements: { ...heldUpdate().requirements, quorum: 2 } }));
    await service.answer(lead, r.id, { verdict: 'approve', comment: 'first', grantSeconds: 0 });
    expect((await service.get(r.id))?.state).toBe('pending');
    const out = await service.answer(lead2, r.id, { verdict: 'approve', comment: 'second', grantSeconds: 0 });
    expect(out).toMatchObject({ kind: 'answered', request: { state: 'approved', grantId: null }, grant: null });
    expect(records.map((x) => `${x.event}:${x.actor?.subject ?? '-'}:${x.comment ?? ''}`)).toEqual([
      'requested:-:',
      'answered:lead-1:first',
      'answered:lead-2:second',
      'approved:lead-2:',
    ]);
    expect(await service.answer(person('lead-3', ['clinical-leads']), r.id, { verdict: 'deny', comment: '', grantSeconds: 0 })).toMatchObject({ refusal: 'not_pending' });
  });

  it('one deny closes the request', async () => {
    const { service, records } = setup();
    const r = await service.open(heldUpdate({ requirements: { ...heldUpdate().requirements, quorum: 2 } }));
    const out = await service.answer(lead, r.id, { verdict: 'deny', comment: 'not today', grantSeconds: 0 });
    expect(out).toMatchObject({ kind: 'answered', request: { state: 'denied' } });
    expect(records.at(-1)).toMatchObject({ event: 'denied', state: 'denied', actor: { subject: 'lead-1' } });
  });

  it('expires after the TTL: an answer then is refused and closes it', async () => {
    const { service, advance, records } = setup();
    const r = await service.open(heldUpdate());
    advance(3600);
    expect(await service.answer(lead, r.id, { verdict: 'approve', comment: '', grantSeconds: 0 })).toMatchObject({ kind: 'refused', refusal: 'expired' });
    expect((await service.get(r.id))?.state).toBe('expired');
    expect(records.filter((x) => x.event === 'expired')).toHaveLength(1);
  });

  it('expireDue and waitForClose see the TTL pass', async () => {
    const { service, advance } = setup();
    const r = await service.open(heldUpdate());
    advance(3599);
    expect(await service.expireDue()).toBe(0);
    advance(1);
    expect((await service.waitForClose(r.id))?.state).toBe('expired');
  });

  it('withdraws a pending request once, and a closed one stays as it was', async () => {
    const { service, records } = setup();
    const r = await service.open(heldUpdate());
    expect((await service.withdraw(r.id, 'client disconnected'))?.state).toBe('withdrawn');
    expect((await service.withdraw(r.id, 'again'))?.closedReason).toBe('client disconnected');
    expect(records.filter((x) => x.event === 'withdrawn')).toHaveLength(1);
  });

  it('waitForClose wakes on an answer', async () => {
    const { service } = setup();
    const r = await service.open(heldUpdate());
    const waiting = service.waitForClose(r.id);
    await service.answer(lead, r.id, { verdict: 'approve', comment: '', grantSeconds: 0 });
    expect((await waiting)?.state).toBe('approved');
  });

  it('voids pending requests of another policy commit', async () => {
    const { service } = setup();
    const r = await service.open(heldUpdate());
    expect(await service.voidStale('rev-2')).toBe(1);
    expect((await service.get(r.id))?.state).toBe('void');
  });

  it('a grant covers the fingerprint for its window, for that identity and commit, until revoked', async () => {
    const { service, advance, setRevision, records } = setup();
    const r = await service.open(heldUpdate());
    expect(await service.answer(lead, r.id, { verdict: 'approve', comment: '', grantSeconds: 3600 })).toMatchObject({ refusal: 'grant_not_allowed' });
    const out = await service.answer(lead, r.id, { verdict: 'approve', comment: 'for the batch', grantSeconds: 600 });
    if (out?.kind !== 'answered' || out.grant === null) throw new Error('expected a grant');
    expect(records.at(-1)?.grant).toEqual({ id: out.grant.id, expires_at: '2026-12-05T06:10:00.000Z' });
    const q = { fingerprint: 'fp-update-phone', normalized: 'UPDATE clinical.patients SET phone = $1 WHERE id = $2', subject: 'agent-7', issuer: 'https://idp.test' };
    expect((await service.findGrant(q))?.id).toBe(out.grant.id);
    expect(await service.findGrant({ ...q, subject: 'agent-8' })).toBeNull();
    expect(await service.findGrant({ ...q, fingerprint: 'other' })).toBeNull();
    // The same fingerprint, another shape (an IN list): not covered; nor a text that could not be normalized.
    expect(await service.findGrant({ ...q, normalized: 'UPDATE clinical.patients SET phone = $1 WHERE id IN ($2, $3, $4)' })).toBeNull();
    expect(await service.findGrant({ ...q, normalized: null })).toBeNull();
    expect((await service.findGrant({ ...q, normalized: '/* reason: again */ UPDATE clinical.patients SET phone = $1  WHERE id = $2;' }))?.id).toBe(out.grant.id);
    setRevision('rev-2');
    expect(await service.findGrant(q)).toBeNull();
    setRevision('rev-1');
    advance(600);
    expect(await service.findGrant(q)).toBeNull();
  });

  it('revokes a grant: granters and approvers may, others not', async () => {
    const { service, records } = setup();
    const r = await service.open(heldUpdate());
    const out = await service.answer(lead, r.id, { verdict: 'approve', comment: '', grantSeconds: 600 });
    if (out?.kind !== 'answered' || out.grant === null) throw new Error('expected a grant');
    expect(await service.revokeGrant(outsider, out.grant.id, '')).toEqual({ kind: 'forbidden' });
    expect(await service.revokeGrant(lead2, out.grant.id, 'done')).toMatchObject({ kind: 'revoked', grant: { revokedBy: { subject: 'lead-2' } } });
    expect(await service.revokeGrant(lead, out.grant.id, '')).toEqual({ kind: 'already_revoked' });
    expect(await service.findGrant({ fingerprint: 'fp-update-phone', normalized: 'UPDATE clinical.patients SET phone = $1 WHERE id = $2', subject: 'agent-7', issuer: 'https://idp.test' })).toBeNull();
    expect(records.at(-1)).toMatchObject({ event: 'grant_revoked', comment: 'done', actor: { subject: 'lead-2' } });
    expect(await service.revokeGrant(lead, '00000000-0000-0000-0000-000000000000', '')).toBeNull();
  });

  it('a grant needs every approver of the quorum to ask for one', async () => {
    const { service } = setup();
    const r = await service.open(heldUpdate({ requirements: { ...heldUpdate().requirements, quorum: 2 } }));
    await service.answer(lead, r.id, { verdict: 'approve', comment: '', grantSeconds: 600 });
    const out = await service.answer(lead2, r.id, { verdict: 'approve', comment: '', grantSeconds: 0 });
    expect(out).toMatchObject({ kind: 'answered', request: { state: 'approved' }, grant: null });
  });

  it('lists what the viewer may answer or asked for', async () => {
    const { service } = setup();
    const r = await service.open(heldUpdate());
    expect((await service.list(lead, ['pending'])).map((x) => x.id)).toEqual([r.id]);
    expect(await service.list(outsider)).toEqual([]);
    expect((await service.list(person('agent-7'))).map((x) => x.id)).toEqual([r.id]);
  });

  it('an audit failure leaves the answer unsaved', async () => {
    const store = createMemoryStore();
    let fail = false;
    const service = new ApprovalService({
      store,
      audit: () => {
        if (fail) throw new Error('disk full');
      },
      activeRevision: () => 'rev-1',
    });
    const r = await service.open(heldUpdate());
    fail = true;
    await expect(service.answer(lead, r.id, { verdict: 'approve', comment: '', grantSeconds: 0 })).rejects.toThrow('disk full');
    expect((await store.get(r.id))?.state).toBe('pending');
  });

  it('lists what the viewer may see before keeping the newest N, and caps pending requests per identity', async () => {
    const { service, advance, records } = setup();
    const mine = await service.open(heldUpdate());
    for (let i = 0; i < 5; i++) {
      advance(1);
      await service.open(heldUpdate({ requester: { ...heldUpdate().requester, subject: `flooder-${i}` }, requirements: { ...heldUpdate().requirements, approvers: ['pharmacy-leads'] } }));
    }
    expect((await service.list(lead, ['pending'], 2)).map((r) => r.id)).toEqual([mine.id]);
    expect((await service.list(person('agent-7'), ['pending'], 1)).map((r) => r.id)).toEqual([mine.id]);
    const before = records.length;
    await expect(service.open(heldUpdate(), { maxPendingPerIdentity: 1 })).rejects.toMatchObject({ code: 'APPROVAL_LIMIT', sqlstate: '53400' });
    expect(records.length).toBe(before);
    advance(3600);
    // Its first request's TTL passed: it no longer counts.
    expect((await service.open(heldUpdate(), { maxPendingPerIdentity: 1 })).state).toBe('pending');
  });
});
