import { describe, expect, it } from 'vitest';
import { identityPart, sessionPart } from '../policy/input-parts.ts';
import type { PolicyInput } from '../policy/types.ts';
import { recordBodyJson } from './record-json.ts';
import { AUDIT_RECORD_VERSION, type AuditRecord } from './types.ts';

type StatementRecord = Extract<AuditRecord, { type: 'statement' }>;

/** What the body always was: JSON.stringify of the record without `v`, fields in the record's order. */
function reference(record: AuditRecord): string {
  const { v: _v, ...rest } = record;
  return JSON.stringify(rest);
}

const identity = { subject: 'ana', issuer: 'https://idp', groups: ['g', 'g', 'h'], roles: [], name: 'Ana "\\ \u2028' };
const session = { id: 's-1', clientAddress: '127.0.0.1', applicationName: 'psql', database: 'app', user: 'ana', tls: false };

function input(): PolicyInput {
  return {
    version: 2,
    identity: identityPart(identity),
    session: sessionPart(session),
    statement: { text: 'SELECT $1', fingerprint: 'f1', protocol: 'simple', kind: 'select', command: 'SelectStmt' } as PolicyInput['statement'],
  };
}

function statement(extra: Partial<StatementRecord> = {}): StatementRecord {
  const i = input();
  return {
    v: AUDIT_RECORD_VERSION,
    type: 'statement',
    time: '2026-12-05T00:00:02.000Z',
    decision_id: 'd-1',
    session_id: 's-1',
    identity: i.identity,
    client_address: '127.0.0.1',
    application_name: 'psql',
    statement: 'SELECT $1',
    ...extra,
    fingerprint: 'f1',
    input: i,
    decision: 'mask',
    reason: 'r "quoted"',
    policies: ['p1'],
    masks: [{ table: 'public.t', column: 'c', strategy: 'redact' }],
    engine: 'rego',
    revision: null,
  };
}

describe('recordBodyJson', () => {
  it('makes the text JSON.stringify makes for statement records, with and without their optional fields', () => {
    for (const r of [statement(), statement({ forwarded: 'SELECT x', sealed: 'jwe' }), { ...statement(), input: null, identity: null }]) {
      expect(recordBodyJson(r)).toBe(reference(r));
      expect(recordBodyJson(r)).toBe(reference(r)); // the second time from the kept JSON of the shared parts
    }
  });

  it('keeps a field it does not know, and a record whose fields come in another order, as JSON.stringify does', () => {
    const extra = { ...statement(), later: { x: 1 } } as unknown as AuditRecord;
    expect(JSON.parse(recordBodyJson(extra))).toHaveProperty('later', { x: 1 });
    expect(recordBodyJson(extra)).toBe(reference(extra));
    const { fingerprint, ...rest } = statement();
    const reordered = { ...rest, fingerprint } as AuditRecord;
    expect(recordBodyJson(reordered)).toBe(reference(reordered));
    const r = statement();
    const inputReordered = { ...r, input: { statement: r.input!.statement, version: 2, identity: r.input!.identity, session: r.input!.session } } as AuditRecord;
    expect(recordBodyJson(inputReordered)).toBe(reference(inputReordered));
  });

  it('serializes an identity that is not frozen afresh each time (a change is seen)', () => {
    const open = { subject: 'bo', issuer: 'i', groups: ['a'], roles: [], name: null };
    const r = { ...statement(), identity: open } as StatementRecord;
    expect(recordBodyJson(r)).toBe(reference(r));
    open.groups.push('admin');
    expect(recordBodyJson(r)).toContain('"groups":["a","admin"]');
  });

  it('serializes other records as JSON.stringify does', () => {
    const r: AuditRecord = { v: AUDIT_RECORD_VERSION, type: 'policy', time: 't', event: 'activated', revision: 'abc"\u2028', engine: 'rego', reason: null };
    expect(recordBodyJson(r)).toBe(reference(r));
  });
});

describe('recordBodyJson of outcome records', () => {
  it('makes the text JSON.stringify makes, with and without detections and subjects', () => {
    const base: AuditRecord = { v: AUDIT_RECORD_VERSION, type: 'outcome', time: 't', decision_id: 'd', session_id: 's', identity: identityPart(identity), revision: 'r', outcome: { status: 'ok', command_tag: 'SELECT 1', rows: 1 } };
    const detected = { ...base, detected: { email: 2 } } as AuditRecord;
    for (const r of [base, detected]) {
      expect(recordBodyJson(r)).toBe(reference(r));
      expect(recordBodyJson(r)).toBe(reference(r));
    }
  });
});
