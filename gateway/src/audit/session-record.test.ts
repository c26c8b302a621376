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

describe('writtenSoon', () => {
  it('queues a login that succeeded and a session that ended well; writes refusals and failures at once', () => {
    expect(writtenSoon({ event: 'auth_ok', reason: null })).toBe(true);
    expect(writtenSoon({ event: 'closed', reason: null })).toBe(true);
    expect(writtenSoon({ event: 'closed', reason: 'upstream connection failed: refused' })).toBe(false);
    expect(writtenSoon({ event: 'auth_failed', reason: 'bad token' })).toBe(false);
    expect(writtenSoon({ event: 'protocol_error', reason: 'x' })).toBe(false);
  });
});
