import { describe, expect, it } from 'vitest';
import { loadSqlParser } from '../sql/parser.ts';
import type { Decision, PolicyInput } from '../policy/types.ts';
import { createMemoryStore } from './memory-store.ts';
import { ApprovalService } from './service.ts';
import { createSessionGate } from './statement-gate.ts';
import { person } from './test-fixtures.ts';

await loadSqlParser();

const agent = person('agent-7', ['agents']);
const lead = person('lead-1', ['clinical-leads']);
const requirements = { approvers: ['clinical-leads'], quorum: 1, ttlSeconds: 3600, reasonRequired: false, grantMaxSeconds: 600 };

function decision(overrides: Partial<Decision> = {}): Decision {
  return { id: 'd-1', engine: 'rego', revision: 'rev-1', evalMicros: 1, action: 'approve', reason: 'writes need approval', policies: ['w'], masks: [], approval: requirements, ...overrides };
}

function input(): PolicyInput {
  return { statement: { fingerprint: 'fp-1', kind: 'update', tables_read: [], tables_written: ['clinical.patients'] } } as unknown as PolicyInput;
}

function setup(caps: { session?: number; identity?: number } = {}, shared?: ApprovalService) {
  let revision = 'rev-1';
  const service = shared ?? new ApprovalService({ store: createMemoryStore(), audit: () => undefined, activeRevision: () => revision, pollMs: 5 });
  const notices: string[] = [];
  const gate = createSessionGate({
    service,
    identity: agent,
    session: { id: 's-1', clientAddress: '', applicationName: '', database: 'postgres', user: 'agent', tls: false },
    activeRevision: () => revision,
    pageUrl: () => 'http://admin.test/approvals',
    notice: (n) => notices.push(`${n.message} | ${n.hint ?? ''}`),
    maxPendingPerSession: caps.session ?? 10,
    maxPendingPerIdentity: caps.identity ?? 50,
  });
  const statement = (d: Decision, text: string) => ({ decision: d, input: input(), text, queryText: text, protocol: 'extended' as const, parameters: [Buffer.from('555'), null, Buffer.from([0, 1])] });
  const hold = async (d = decision(), text = "UPDATE clinical.patients SET phone = '1' WHERE id = 1") => {
    const out = await gate.hold([statement(d, text)]);
    return out.kind === 'approved' ? { kind: 'approved' as const, note: out.notes[0] } : out;
  };
  const holdMany = (n: number) => gate.hold(Array.from({ length: n }, (_, i) => statement(decision({ id: `d-${i}` }), `UPDATE clinical.patients SET phone = '${i}' WHERE id = 1`)));
  const firstPending = async () => {
    for (;;) {
      const [r] = await service.list(lead, ['pending']);
      if (r) return r;
      await new Promise((res) => setTimeout(res, 2));
    }
  };
  const pendingNow = async () => service.list(lead, ['pending']);
  return { service, gate, hold, holdMany, notices, firstPending, pendingNow, setRevision: (r: string) => (revision = r) };
}

describe('session approval gate', () => {
  it('opens a request with the statement, tells the client where to answer, and runs when approved', async () => {
    const { service, hold, notices, firstPending } = setup();
    const answer = hold();
    const r = await firstPending();
    expect(r.statement).toMatchObject({ normalized: 'UPDATE clinical.patients SET phone = $1 WHERE id = $2', fingerprint: 'fp-1', parameters: ['555', null, '\\x0001'] });
    expect(notices).toEqual([`Gatehouse is holding this statement for approval: request ${r.id} | Approvers answer at http://admin.test/approvals or with: gatehouse approvals approve ${r.id}`]);
    await service.answer(lead, r.id, { verdict: 'approve', comment: '', grantSeconds: 0 });
    expect(await answer).toEqual({ kind: 'approved', note: `approved in request ${r.id} by lead-1` });
  });

  it('denied: 42501 with the approver and comment', async () => {
    const { service, hold, firstPending } = setup();
    const answer = hold();
    const r = await firstPending();
    await service.answer(lead, r.id, { verdict: 'deny', comment: 'no', grantSeconds: 0 });
    const out = await answer;
    expect(out.kind === 'refused' && [out.error.code, out.error.sqlstate, out.error.message]).toEqual(['APPROVAL_DENIED', '42501', `approval request ${r.id} was denied by lead-1: "no"`]);
  });

  it('approved after the policy commit changed: void, 42501', async () => {
    const { service, hold, firstPending, setRevision } = setup();
    const answer = hold();
    const r = await firstPending();
    setRevision('rev-2');
    await service.answer(lead, r.id, { verdict: 'approve', comment: '', grantSeconds: 0 });
    const out = await answer;
    expect(out.kind === 'refused' && out.error.code).toBe('APPROVAL_VOID');
  });

  it('withdrawAll ends the wait and withdraws the request', async () => {
    const { service, gate, hold, firstPending } = setup();
    const answer = hold();
    const r = await firstPending();
    gate.withdrawAll('the client disconnected');
    expect((await answer).kind).toBe('refused');
    await new Promise((res) => setTimeout(res, 20));
    expect((await service.get(r.id))?.state).toBe('withdrawn');
  });

  it('a grant lets the fingerprint through without a request', async () => {
    const { service, hold, notices, firstPending } = setup();
    const first = hold();
    const r = await firstPending();
    await service.answer(lead, r.id, { verdict: 'approve', comment: '', grantSeconds: 300 });
    await first;
    const out = await hold();
    expect(out.kind === 'approved' && out.note).toMatch(/^let through by grant /);
    expect(notices).toHaveLength(1);
  });

  it('refuses at once when a reason is required and none is given, or no requirements came', async () => {
    const { hold } = setup();
    const noReason = await hold(decision({ approval: { ...requirements, reasonRequired: true } }));
    expect(noReason.kind === 'refused' && noReason.error.hint).toMatch(/reason: ticket 1234/);
    const { approval: _omit, ...bare } = decision();
    expect((await hold(bare as Decision)).kind).toBe('refused');
  });

  it('a query string needing more requests than the session may have pending is refused with 53400, and nothing is opened', async () => {
    const { holdMany, notices, pendingNow } = setup({ session: 2 });
    const out = await holdMany(3);
    expect(out.kind === 'refused' && [out.error.code, out.error.sqlstate]).toEqual(['APPROVAL_LIMIT', '53400']);
    expect(out.kind === 'refused' && out.error.message).toMatch(/max_pending_per_session allows 2/);
    expect(await pendingNow()).toEqual([]);
    expect(notices).toEqual([]);
  });

  it('the session cap counts requests already pending in the session', async () => {
    const { gate, holdMany, firstPending, pendingNow } = setup({ session: 2 });
    const waiting = holdMany(2);
    await firstPending();
    for (let i = 0; i < 200 && (await pendingNow()).length < 2; i++) await new Promise((res) => setTimeout(res, 2));
    const out = await holdMany(1);
    expect(out.kind === 'refused' && out.error.code).toBe('APPROVAL_LIMIT');
    gate.withdrawAll('test over');
    expect((await waiting).kind).toBe('refused');
  });

  it('the identity cap counts pending requests of every session of that identity', async () => {
    const one = setup({ identity: 1 });
    const two = setup({ identity: 1 }, one.service);
    const waiting = one.hold();
    await one.firstPending();
    const out = await two.hold();
    expect(out.kind === 'refused' && [out.error.code, out.error.sqlstate]).toEqual(['APPROVAL_LIMIT', '53400']);
    expect(await one.pendingNow()).toHaveLength(1);
    one.gate.withdrawAll('test over');
    await waiting;
  });

  it('a refusal of one statement of the string withdraws the requests of the others', async () => {
    const { service, holdMany, pendingNow } = setup();
    const out = holdMany(2);
    let pending: Awaited<ReturnType<typeof pendingNow>> = [];
    for (let i = 0; i < 500 && pending.length < 2; i++) {
      pending = await pendingNow();
      await new Promise((res) => setTimeout(res, 2));
    }
    expect(pending).toHaveLength(2);
    await service.answer(lead, pending[0]!.id, { verdict: 'deny', comment: 'no', grantSeconds: 0 });
    const result = await out;
    expect(result.kind === 'refused' && result.error.code).toBe('APPROVAL_DENIED');
    for (let i = 0; i < 100 && (await service.get(pending[1]!.id))?.state === 'pending'; i++) await new Promise((res) => setTimeout(res, 2));
    expect((await service.get(pending[1]!.id))?.state).toBe('withdrawn');
  });
});
