import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { chainLine, chainPrepared, EMPTY_CHAIN, lineHash, prepareRecord, type ChainHead } from './chain.ts';
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

/** The line format as it was first written: v, seq and prev, then the rest of the record in order. */
function referenceLine(record: AuditRecord, at: ChainHead): string {
  const { v, ...rest } = record;
  return JSON.stringify({ v, seq: at.seq + 1, prev: at.head, ...rest });
}

describe('chainLine', () => {
  const statement: AuditRecord = {
    v: AUDIT_RECORD_VERSION,
    type: 'statement',
    time: '2026-12-05T00:00:02.000Z',
    decision_id: 'd-1',
    session_id: 's-1',
    identity: { subject: 'ana', issuer: 'https://idp', groups: ['g'], roles: [], name: 'Ana "\\ \u2028' },
    client_address: '127.0.0.1',
    application_name: 'psql',
    statement: 'SELECT $1',
    forwarded: undefined,
    fingerprint: 'ab',
    input: null,
    decision: 'allow',
    reason: 'ok',
    policies: ['p'],
    masks: [],
    engine: 'rego',
    revision: 'r',
  };
  const records: AuditRecord[] = [
    statement,
    { v: AUDIT_RECORD_VERSION, type: 'outcome', time: 't', decision_id: 'd-1', session_id: 's-1', identity: statement.identity!, revision: 'r', outcome: { status: 'ok', command_tag: 'SELECT 1', rows: 1 } },
    { v: AUDIT_RECORD_VERSION, type: 'sink', time: 't', event: 'opened', outage: null },
    // `v` not first (not how Gatehouse builds records, but the line must not depend on it)
    { type: 'policy', time: 't', event: 'refused', revision: 'x', engine: 'cedar', reason: 'no', v: AUDIT_RECORD_VERSION } as AuditRecord,
    { v: AUDIT_RECORD_VERSION } as unknown as AuditRecord,
  ];

  it('writes the bytes of the original format (v, seq, prev first; undefined fields left out)', () => {
    let at: ChainHead = EMPTY_CHAIN;
    for (const r of records) {
      const { line, next } = chainLine(r, at);
      expect(line).toBe(referenceLine(r, at));
      expect(next).toEqual({ seq: at.seq + 1, head: createHash('sha256').update(line).digest('hex') });
      at = next;
    }
  });

  it('hashes lines as SHA-256 hex of their UTF-8 bytes, strings and buffers alike', () => {
    const line = '{"v":1,"name":"Zoë \u2028"}';
    expect(lineHash(line)).toBe(createHash('sha256').update(Buffer.from(line, 'utf8')).digest('hex'));
    expect(lineHash(Buffer.from(line, 'utf8'))).toBe(lineHash(line));
  });
});
