import { beforeAll, describe, expect, it } from 'vitest';
import { analyzeQuery, loadSqlParser } from '../sql/parser.ts';
import { buildPolicyInput } from '../policy/input.ts';
import type { PolicyInput } from '../policy/types.ts';
import { redactRecord } from './redact.ts';
import { recordBody } from './record-json.ts';
import { AUDIT_RECORD_VERSION, type AuditRecord } from './types.ts';

beforeAll(async () => {
  await loadSqlParser();
});

/** What the body must be: JSON.stringify of the record without `v`, as the chain has always written it. */
function reference(record: AuditRecord): string {
  const { v: _v, ...rest } = record;
  return JSON.stringify(rest);
}

const identity = { subject: 'ana', issuer: 'https://idp', groups: ['g', 'h'], roles: [], name: 'Ana "\\ \u2028' };
const session = { id: 's-1', clientAddress: '127.0.0.1', applicationName: 'psql', database: 'app', user: 'ana', tls: false };

function statementRecord(text: string, more: Partial<Extract<AuditRecord, { type: 'statement' }>> = {}, protocol: 'simple' | 'extended' = 'simple'): Extract<AuditRecord, { type: 'statement' }> {
  const parsed = analyzeQuery(text);
  const p = parsed.ok ? parsed.statements[0]! : null;
  const input: PolicyInput | null = p === null ? null : buildPolicyInput({ identity, session, text, protocol, facts: p.facts });
  return {
    v: AUDIT_RECORD_VERSION,
    type: 'statement',
    time: '2026-12-07T12:00:00.000Z',
    decision_id: 'd-1',
    session_id: session.id,
    identity: input?.identity ?? null,
    client_address: session.clientAddress,
    application_name: session.applicationName,
    statement: text,
    fingerprint: p?.facts.fingerprint ?? '',
    input,
    decision: 'allow',
    reason: 'ok',
    policies: ['p1', 'p2'],
    masks: [],
    engine: 'rego',
    revision: 'r',
    ...more,
  };
}

describe('recordBody', () => {
  it('writes the bytes of JSON.stringify for statement records of one shape, the same and with other literals', () => {
    for (let i = 0; i < 5; i++) {
      for (const text of [`SELECT abalance FROM pgbench_accounts WHERE aid = ${i}`, `UPDATE t SET a = '${i}' WHERE b = ${i}`, `SELECT set_config('app.x', '${i}', false)`, 'SET work_mem = 64']) {
        for (const protocol of ['simple', 'extended'] as const) {
          const r = redactRecord(statementRecord(text, { decision_id: `d-${i}` }, protocol));
          expect(recordBody(r)).toBe(reference(r));
        }
      }
    }
  });

  it('does not reuse a statement part whose fields differ from the one it made (settings, protocol, facts)', () => {
    const a = redactRecord(statementRecord("SELECT set_config('app.x', '1', false)"));
    expect(recordBody(a)).toBe(reference(a));
    // Same redacted text, so the same cache entry: every field that differs must show.
    const changes: ((s: PolicyInput['statement']) => PolicyInput['statement'])[] = [
      (s) => ({ ...s, settings: ['other'] }),
      (s) => ({ ...s, settings: [...s.settings, 'more'] }),
      (s) => ({ ...s, protocol: 'extended' }),
      (s) => ({ ...s, has_where: true }),
      (s) => ({ ...s, tables_read: ['public.other'] }),
      (s) => ({ ...s, columns: { 'public.t': ['x'] } }),
      (s) => ({ ...s, copy: undefined }) as unknown as PolicyInput['statement'],
      (s) => {
        const { text, ...rest } = s;
        return { ...rest, text }; // the same fields in another order
      },
      (s) => ({ ...s, extra: 1 }) as PolicyInput['statement'],
    ];
    for (const change of changes) {
      const input = a.type === 'statement' ? a.input! : null;
      const b = { ...a, input: { ...input!, statement: change(input!.statement) } } as AuditRecord;
      expect(recordBody(b)).toBe(reference(b));
      expect(recordBody(a)).toBe(reference(a));
    }
  });

  it('sees an unfrozen part changed in place after it was serialized', () => {
    const r = redactRecord(statementRecord('SELECT 1')) as Extract<AuditRecord, { type: 'statement' }>;
    // settings: an unfrozen array of strings, compared by content (kept as a copy)
    const settings = ['a'];
    const kept = { ...r, input: { ...r.input!, statement: { ...r.input!.statement, settings } } } as AuditRecord;
    expect(recordBody(kept)).toBe(reference(kept));
    settings.push('b');
    expect(recordBody(kept)).toBe(reference(kept));
    settings[0] = 'c';
    expect(recordBody(kept)).toBe(reference(kept));
    // columns: an unfrozen object, so that part is never reused
    const columns: Record<string, string[]> = { 'public.t': ['x'] };
    const fresh = { ...r, input: { ...r.input!, statement: { ...r.input!.statement, columns } } } as AuditRecord;
    expect(recordBody(fresh)).toBe(reference(fresh));
    columns['public.t']!.push('y');
    expect(recordBody(fresh)).toBe(reference(fresh));
    // identity and session parts: frozen ones are kept by identity, others serialized each time
    const session = { ...r.input!.session };
    const open = { ...r, input: { ...r.input!, session } } as AuditRecord;
    expect(recordBody(open)).toBe(reference(open));
    session.application_name = 'changed';
    expect(recordBody(open)).toBe(reference(open));
  });

  it('escapes strings as JSON.stringify does and leaves out what it leaves out', () => {
    const odd = ['"', '\\', '\n\t\u0000\u001f', '\u2028\u2029', 'Zoë', '\ud83d\ude00', 'lone \ud800 x', 'lone \udc00', ''];
    for (const s of odd) {
      const r = statementRecord('SELECT 1', { reason: s, statement: s, policies: [s, 'p'], forwarded: undefined, revision: s });
      expect(recordBody(r)).toBe(reference(r));
    }
    const numbers = [0, -0, 1.5, 1e21, NaN, Infinity, -Infinity];
    for (const n of numbers) {
      const r = { v: AUDIT_RECORD_VERSION, type: 'outcome', time: 't', decision_id: 'd', session_id: 's', identity, revision: 'r', outcome: { status: 'ok', command_tag: null, rows: n } } as AuditRecord;
      expect(recordBody(r)).toBe(reference(r));
      const flat = { v: AUDIT_RECORD_VERSION, type: 'sink', time: 't', event: 'opened', outage: null, n } as unknown as AuditRecord;
      expect(recordBody(flat)).toBe(reference(flat));
    }
  });

  it('handles records of every type, v anywhere or missing, toJSON, and values that make JSON.stringify throw', () => {
    const frozenIdentity = Object.freeze({ ...identity, groups: Object.freeze(['g']) });
    const records = [
      { v: AUDIT_RECORD_VERSION, type: 'session', time: 't', session_id: 's', event: 'auth_ok', client_address: 'c', application_name: 'a', identity: frozenIdentity, reason: null },
      { v: AUDIT_RECORD_VERSION, type: 'outcome', time: 't', decision_id: 'd', session_id: 's', identity: frozenIdentity, revision: 'r', outcome: { status: 'error', sqlstate: '42501', message: 'no "x"' }, detected: { email: 2 } },
      { type: 'policy', time: 't', event: 'refused', revision: 'x', engine: 'cedar', reason: 'no', v: AUDIT_RECORD_VERSION },
      { v: AUDIT_RECORD_VERSION },
      { v: AUDIT_RECORD_VERSION, type: 'sink', time: new Date(0), event: 'opened', outage: null, when: { toJSON: (key: string) => `at ${key}` } },
      { v: AUDIT_RECORD_VERSION, type: 'sink', time: 't', event: 'opened', outage: null, list: [1, undefined, 'x', null, { a: 1 }, () => 1] },
      { v: AUDIT_RECORD_VERSION, type: 'sink', time: 't', event: 'opened', outage: null, f: () => 1, s: Symbol('x'), u: undefined, 1: 'one' },
      { ...statementRecord('SELECT 1'), input: { toJSON: () => 'input' } },
      { ...statementRecord('SELECT 1'), input: [1, 2] },
      { toJSON: () => ({ v: 9, type: 'sink' }), v: AUDIT_RECORD_VERSION },
    ] as unknown as AuditRecord[];
    for (const r of records) expect(recordBody(r)).toBe(reference(r));
    const big = { v: AUDIT_RECORD_VERSION, type: 'sink', time: 't', n: 1n } as unknown as AuditRecord;
    expect(() => reference(big)).toThrow(TypeError);
    expect(() => recordBody(big)).toThrow(TypeError);
  });
});
