import { describe, expect, it } from 'vitest';
import { disclosureOf } from './disclosures.ts';
import type { AccessRow } from './query.ts';

const H = 'a'.repeat(64);
const OTHER = 'b'.repeat(64);

function row(extra: Partial<AccessRow>): AccessRow {
  return {
    time: '2026-12-05T10:00:00.000Z', decision_id: 'd1', session_id: 's1', identity: { subject: 'agent-7', issuer: 'iss', name: 'Agent', groups: [] },
    client_address: '127.0.0.1', application_name: 'psql', database: 'app', statement: 'SELECT ...', fingerprint: 'f', kind: 'select', command: 'SelectStmt',
    decision: 'mask', reason: 'patient identifiers masked', policies: ['p'], masked: ['clinical.patients.ssn'], tables_read: ['clinical.patients', 'clinical.codes'],
    tables_written: [], columns: ['clinical.patients.id', 'clinical.patients.ssn', 'clinical.codes.code'], engine: 'rego', revision: 'abc', outcome: { status: 'ok', command_tag: 'SELECT 1', rows: 1 },
    approval: null, at: 'audit.ndjson:3', ...extra,
  };
}

describe('disclosureOf', () => {
  it('lists a statement whose subject list holds the hash, with the columns of that table only', () => {
    const d = disclosureOf(row({ subjects: { 'clinical.patients': { status: 'listed', hashes: [OTHER, H], count: 2, truncated: false } } }), H);
    expect(d).toMatchObject({ match: 'listed', tables: ['clinical.patients'], columns: ['clinical.patients.id', 'clinical.patients.ssn'], masked: ['clinical.patients.ssn'], decision: 'mask' });
  });

  it('leaves out other subjects, statements without subjects and statements that did not run', () => {
    expect(disclosureOf(row({ subjects: { 'clinical.patients': { status: 'listed', hashes: [OTHER], count: 1, truncated: false } } }), H)).toBeNull();
    expect(disclosureOf(row({}), H)).toBeNull();
    expect(disclosureOf(row({ outcome: { status: 'refused', sqlstate: '42501' }, subjects: { 'clinical.patients': { status: 'unknown', reason: 'x' } } }), H)).toBeNull();
  });

  it('a listed statement keeps, with why, the PHI tables whose subject is unknown (a masked subject column) and their columns', () => {
    const d = disclosureOf(
      row({
        tables_read: ['clinical.patients', 'clinical.visits'],
        columns: ['clinical.patients.id', 'clinical.patients.name', 'clinical.visits.reason'],
        masked: ['clinical.patients.id'],
        subjects: {
          'clinical.patients': { status: 'unknown', reason: 'its subject column id is masked for this statement' },
          'clinical.visits': { status: 'listed', hashes: [H], count: 1, truncated: false },
        },
      }),
      H,
    );
    expect(d).toMatchObject({ match: 'listed', tables: ['clinical.visits'], why: { 'clinical.patients': 'its subject column id is masked for this statement' } });
    expect(d!.columns).toEqual(['clinical.patients.id', 'clinical.patients.name', 'clinical.visits.reason']);
    expect(d!.masked).toEqual(['clinical.patients.id']);
    // Only the masked table: subject unknown, never attributed from its (masked) values.
    const alone = disclosureOf(row({ masked: ['clinical.patients.id'], subjects: { 'clinical.patients': { status: 'unknown', reason: 'its subject column id is masked for this statement' } } }), H);
    expect(alone).toMatchObject({ match: 'possible', tables: ['clinical.patients'], why: { 'clinical.patients': 'its subject column id is masked for this statement' } });
  });

  it('marks unknown and cut lists as possible, with why', () => {
    const unknown = disclosureOf(row({ subjects: { 'clinical.patients': { status: 'unknown', reason: 'an aggregate' } } }), H);
    expect(unknown).toMatchObject({ match: 'possible', why: { 'clinical.patients': 'an aggregate' } });
    const cut = disclosureOf(row({ subjects: { 'clinical.patients': { status: 'listed', hashes: [OTHER], count: 9, truncated: true } } }), H);
    expect(cut?.match).toBe('possible');
  });
});
