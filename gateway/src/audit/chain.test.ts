import { describe, expect, it } from 'vitest';
import { chainLine, chainPrepared, EMPTY_CHAIN, prepareRecord } from './chain.ts';
import { AUDIT_RECORD_VERSION, type AuditRecord } from './types.ts';

describe('chainPrepared', () => {
  it('makes the same line and head as chainLine for a record serialized earlier', () => {
    const records: AuditRecord[] = [
      { v: AUDIT_RECORD_VERSION, type: 'sink', time: '2026-12-05T00:00:00.000Z', event: 'opened', outage: null },
      { v: AUDIT_RECORD_VERSION, type: 'policy', time: '2026-12-05T00:00:01.000Z', event: 'activated', revision: 'abc"\u2028', engine: 'rego', reason: null },
    ];
    let a = EMPTY_CHAIN;
    let b = EMPTY_CHAIN;
    for (const r of records) {
      const x = chainLine(r, a);
      const y = chainPrepared(prepareRecord(r), b);
      expect(y.line).toBe(x.line);
      expect(y.next).toEqual(x.next);
      a = x.next;
      b = y.next;
    }
  });
});
