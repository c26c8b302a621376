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

  it('keeps at most 500 characters', () => {
    expect(requesterReason(`/* reason: ${'x'.repeat(800)} */`)?.length).toBe(500);
  });
});
