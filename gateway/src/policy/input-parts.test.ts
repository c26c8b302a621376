import { describe, expect, it } from 'vitest';
import { identityPart, sessionPart } from './input-parts.ts';

describe('identityPart and sessionPart', () => {
  it('give one frozen object per session while nothing changed, which cannot be changed in place', () => {
    const identity = { subject: 'ana', issuer: 'https://idp', groups: ['g', 'g'], roles: ['r'], name: null };
    const a = identityPart(identity);
    expect(identityPart(identity)).toBe(a);
    expect(a).toEqual({ subject: 'ana', issuer: 'https://idp', groups: ['g'], roles: ['r'], name: null });
    expect(() => (a.groups as string[]).push('admin')).toThrow(TypeError);
    expect(() => ((a as { subject: string }).subject = 'root')).toThrow(TypeError);
  });

  it('rebuild the identity part when a claim changed, in place or replaced', () => {
    const identity = { subject: 'ana', issuer: 'https://idp', groups: ['g'], roles: [] as string[], name: null };
    const a = identityPart(identity);
    identity.groups.push('admin');
    const b = identityPart(identity);
    expect(b).not.toBe(a);
    expect(b.groups).toEqual(['g', 'admin']);
    identity.groups[1] = 'ops';
    expect(identityPart(identity).groups).toEqual(['g', 'ops']);
    identity.roles = ['dba'];
    expect(identityPart(identity).roles).toEqual(['dba']);
    (identity as { name: string | null }).name = 'Ana';
    expect(identityPart(identity).name).toBe('Ana');
  });

  it('rebuild the session part when the application name changed (SET application_name)', () => {
    const session = { id: 's', clientAddress: '127.0.0.1', applicationName: 'psql', database: 'app', user: 'ana', tls: true };
    const a = sessionPart(session);
    expect(sessionPart(session)).toBe(a);
    session.applicationName = 'batch';
    const b = sessionPart(session);
    expect(b).not.toBe(a);
    expect(b).toEqual({ id: 's', client_address: '127.0.0.1', application_name: 'batch', database: 'app', user: 'ana', tls: true });
    expect(Object.isFrozen(b)).toBe(true);
  });
});
