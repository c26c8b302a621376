import { describe, expect, it } from 'vitest';
import type { Identity } from '../policy/types.ts';
import { sessionRecord, writtenSoon } from './session-record.ts';

// An identity object may carry more than Identity names (the verified token's claims): none of it is recorded.
const verified = { subject: 'alice', issuer: 'https://idp', groups: ['clinicians'], roles: ['reader'], name: 'Alice', claims: { email: 'a@x' } };
const identity: Identity = verified;

describe('sessionRecord', () => {
  it('records who logged in, from where, with which application, and only the identity fields the log keeps', () => {
    const r = sessionRecord({ sessionId: 's1', event: 'auth_ok', clientAddress: '10.0.0.1', params: { application_name: 'psql', user: 'alice' }, identity, reason: null });
    expect(r).toMatchObject({
      type: 'session',
      session_id: 's1',
      event: 'auth_ok',
      client_address: '10.0.0.1',
      application_name: 'psql',
      identity: { subject: 'alice', issuer: 'https://idp', groups: ['clinicians'], roles: ['reader'], name: 'Alice' },
      reason: null,
    });
    expect(Object.keys((r as { identity: object }).identity)).not.toContain('claims');
  });

  it('a failed login has no identity and says why; no application name is recorded as empty', () => {
    const r = sessionRecord({ sessionId: 's2', event: 'auth_failed', clientAddress: '', params: {}, identity: null, reason: 'bad token' });
    expect(r).toMatchObject({ identity: null, reason: 'bad token', application_name: '' });
  });
});

describe('sessionRecord identity of a shared (frozen) identity', () => {
  const facts = (who: Identity, event: 'auth_ok' | 'closed') => ({ sessionId: 's3', event, clientAddress: '', params: {}, identity: who, reason: null });
  const recorded = (who: Identity, event: 'auth_ok' | 'closed'): object => (sessionRecord(facts(who, event)) as { identity: object }).identity;

  it('is one frozen object per identity, so that its JSON is made once per token and not at every login', () => {
    const shared: Identity = Object.freeze({ ...verified, groups: Object.freeze(['clinicians']) as string[], roles: Object.freeze(['reader']) as string[] });
    const first = recorded(shared, 'auth_ok');
    expect(recorded(shared, 'closed')).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(first).toEqual({ subject: 'alice', issuer: 'https://idp', groups: ['clinicians'], roles: ['reader'], name: 'Alice' });
    expect(Object.keys(first)).not.toContain('claims');
  });

  it('is made afresh from an identity that can still change, and records it as it is now', () => {
    const own: Identity = { subject: 'bob', issuer: 'https://idp', groups: ['a'], roles: [], name: null };
    const first = recorded(own, 'auth_ok');
    own.groups = ['a', 'b'];
    expect(recorded(own, 'closed')).not.toBe(first);
    expect(recorded(own, 'closed')).toMatchObject({ groups: ['a', 'b'] });
    // A frozen object whose lists are not frozen could still change: not shared either.
    const shallow: Identity = Object.freeze({ ...own, groups: ['x'] });
    const before = recorded(shallow, 'auth_ok');
    shallow.groups.push('y');
    expect(recorded(shallow, 'closed')).toMatchObject({ groups: ['x', 'y'] });
    expect(recorded(shallow, 'closed')).not.toBe(before);
  });
});

describe('writtenSoon', () => {
  it('queues a login that succeeded and a session that ended well; writes refusals and failures at once', () => {
    expect(writtenSoon({ event: 'auth_ok', reason: null })).toBe(true);
    expect(writtenSoon({ event: 'closed', reason: null })).toBe(true);
    expect(writtenSoon({ event: 'closed', reason: 'upstream connection failed: refused' })).toBe(false);
    expect(writtenSoon({ event: 'auth_failed', reason: 'bad token' })).toBe(false);
    expect(writtenSoon({ event: 'protocol_error', reason: 'x' })).toBe(false);
  });
});
