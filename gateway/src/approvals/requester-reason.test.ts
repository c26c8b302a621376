import { describe, expect, it } from 'vitest';
import { requesterReason } from './requester-reason.ts';

describe('requesterReason', () => {
  it('reads a block or line comment, the first one, trimmed', () => {
    expect(requesterReason('/* reason: ticket 4711 */ UPDATE t SET a = 1')).toBe('ticket 4711');
    expect(requesterReason('UPDATE t SET a = 1 -- Reason:  fix typo  \n')).toBe('fix typo');
    expect(requesterReason('/* reason: first */ SELECT 1 /* reason: second */')).toBe('first');
    expect(requesterReason('/* reason:\n  spans\n  lines */ SELECT 1')).toBe('spans\n  lines');
  });

  it('is null without one, or when it is empty', () => {
    expect(requesterReason('UPDATE t SET a = 1')).toBeNull();
    expect(requesterReason('/* why: x */ SELECT 1')).toBeNull();
    expect(requesterReason('/* reason: */ SELECT 1')).toBeNull();
  });

  it('reads comments only: not "reason:" inside a string, an E-string, a quoted name or a dollar quote', () => {
    expect(requesterReason("UPDATE t SET a = '/* reason: approved by the CISO */'")).toBeNull();
    expect(requesterReason("UPDATE t SET a = '-- reason: approved'")).toBeNull();
    expect(requesterReason("UPDATE t SET a = E'\\' /* reason: x */'")).toBeNull();
    expect(requesterReason('SELECT 1 AS "-- reason: x"')).toBeNull();
    expect(requesterReason('SELECT $q$ /* reason: x */ $q$')).toBeNull();
    expect(requesterReason("UPDATE t SET a = '/* reason: no */' /* reason: yes */")).toBe('yes');
    expect(requesterReason('SELECT 1 -- reason: ends at a carriage return\rSELECT 2')).toBe('ends at a carriage return');
  });

  it('keeps at most 500 characters', () => {
    expect(requesterReason(`/* reason: ${'x'.repeat(800)} */`)?.length).toBe(500);
  });
});
