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

function setup() {
  let revision = 'rev-1';
  const service = new ApprovalService({ store: createMemoryStore(), audit: () => undefined, activeRevision: () => revision, pollMs: 5 });
  const notices: string[] = [];
  const gate = createSessionGate({
    service,
    identity: agent,
    session: { id: 's-1', clientAddress: '', applicationName: '', database: 'postgres', user: 'agent', tls: false },
    activeRevision: () => revision,
    pageUrl: () => 'http://admin.test/approvals',
    notice: (n) => notices.push(`${n.message} | ${n.hint ?? ''}`),
  });
  const hold = (d = decision(), text = "UPDATE clinical.patients SET phone = '1' WHERE id = 1") =>
    gate.hold({ decision: d, input: input(), text, queryText: text, protocol: 'extended', parameters: [Buffer.from('555'), null, Buffer.from([0, 1])] });
  const firstPending = async () => {
    for (;;) {
      const [r] = await service.list(lead, ['pending']);
      if (r) return r;
      await new Promise((res) => setTimeout(res, 2));
    }
  };
  return { service, gate, hold, notices, firstPending, setRevision: (r: string) => (revision = r) };
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
});
