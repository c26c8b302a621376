import { describe, expect, it } from 'vitest';
import { changedParts, maskChanges, summarizeVerdict } from './compare.ts';
import type { EngineVerdict } from '../types.ts';

const verdict = (v: Partial<EngineVerdict>): EngineVerdict => ({ action: 'allow', reason: '', policies: [], masks: [], ...v });
const mask = (column: string, strategy: 'redact' | 'last4' | 'hash' | 'null', policy = 'p') => ({ table: 'clinical.patients', column, strategy, policy });

describe('comparing verdicts', () => {
  it('the same action, policies (in any order) and masks is no change, whatever the reasons say', () => {
    const a = summarizeVerdict(verdict({ action: 'mask', policies: ['b', 'a'], masks: [mask('ssn', 'redact')], reason: 'one' }));
    const b = summarizeVerdict(verdict({ action: 'mask', policies: ['a', 'b', 'a'], masks: [mask('ssn', 'redact', 'other')], reason: 'two' }));
    expect(changedParts(a, b)).toEqual([]);
  });

  it('names each part that changed', () => {
    const a = summarizeVerdict(verdict({ action: 'allow', policies: ['read'] }));
    const b = summarizeVerdict(verdict({ action: 'deny', policies: ['read', 'no-visits'] }));
    expect(changedParts(a, b)).toEqual(['action', 'policies']);
  });

  it('reports masks per column: removed, added, and a different strategy; a doubly masked column by its strongest', () => {
    const a = summarizeVerdict(verdict({ action: 'mask', masks: [mask('phone', 'last4'), mask('ssn', 'redact'), mask('email', 'hash'), mask('email', 'null')] }));
    const b = summarizeVerdict(verdict({ action: 'mask', masks: [mask('ssn', 'hash'), mask('mrn', 'hash'), mask('email', 'null')] }));
    expect(maskChanges(a, b)).toEqual([
      { table: 'clinical.patients', column: 'mrn', base: null, head: 'hash' },
      { table: 'clinical.patients', column: 'phone', base: 'last4', head: null },
      { table: 'clinical.patients', column: 'ssn', base: 'redact', head: 'hash' },
    ]);
    expect(changedParts(a, b)).toEqual(['masks']);
  });
});
