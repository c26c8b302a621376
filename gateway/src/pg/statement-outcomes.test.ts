import { describe, expect, it } from 'vitest';
import { GatehouseError } from '../errors.ts';
import { notRunOutcome, outcomeRecord } from './statement-outcomes.ts';

const ctx = {
  session: { id: 's-1', clientAddress: '127.0.0.1', applicationName: 'psql', database: 'clinic', user: 'agent', tls: false },
  identity: { subject: 'agent-7', issuer: 'https://idp.example', groups: ['agents'], roles: [], name: null },
};
const decision = { id: 'd-1', revision: 'rev-a' };

describe('outcomeRecord', () => {
  it('repeats the session, identity and revision beside the outcome', () => {
    const r = outcomeRecord(ctx, decision, { status: 'ok', command_tag: 'SELECT 1', rows: 1 });
    expect(r).toMatchObject({ type: 'outcome', decision_id: 'd-1', session_id: 's-1', revision: 'rev-a', outcome: { status: 'ok', rows: 1 } });
    expect(r.identity.subject).toBe('agent-7');
    expect('detected' in r).toBe(false);
    expect('subjects' in r).toBe(false);
  });

  it('carries detections (a copy) only when there are some', () => {
    const detected = { ssn: 2 };
    const r = outcomeRecord(ctx, decision, { status: 'aborted' }, detected);
    expect(r.detected).toEqual({ ssn: 2 });
    expect(r.detected).not.toBe(detected);
    expect('detected' in outcomeRecord(ctx, decision, { status: 'aborted' }, {})).toBe(false);
  });
});

describe('notRunOutcome', () => {
  const error = new GatehouseError('POLICY_DENIED', 'denied');
  it("is refused with the error's SQLSTATE, and the reason when given", () => {
    expect(notRunOutcome(error, 'refused')).toEqual({ status: 'refused', sqlstate: '42501' });
    expect(notRunOutcome(error, 'refused', 'lock not had')).toEqual({ status: 'refused', sqlstate: '42501', reason: 'lock not had' });
  });
  it('is aborted without a SQLSTATE', () => {
    expect(notRunOutcome(error, 'aborted', 'ignored')).toEqual({ status: 'aborted' });
  });
});
