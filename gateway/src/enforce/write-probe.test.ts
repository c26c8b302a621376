import { beforeAll, describe, expect, it } from 'vitest';
import type { Decision, PolicyInput } from '../policy/types.ts';
import { loadSqlParser } from '../sql/parser.ts';
import { RelationCatalog, type RelationInfo } from './relation-catalog.ts';
import { existenceRefusal, probeInput, probeTables, readMasksOf, readProbe, writesMaskedTable, type ProbedStatement } from './write-probe.ts';

beforeAll(async () => {
  await loadSqlParser();
});

function table(oid: number, name: string, columns: string[], more: Partial<RelationInfo> = {}): RelationInfo {
  return {
    oid,
    schema: 'clinical',
    name,
    qualified: `clinical.${name}`,
    kind: 'table',
    persistence: 'permanent',
    columns: columns.map((c, i) => ({ name: c, attnum: i + 1, type: 'text', category: 'S', typeOid: 25 })),
    reads: [],
    ancestors: [],
    ...more,
  };
}

const CATALOG = new RelationCatalog(
  [
    table(1, 'patients', ['id', 'mrn', 'phone'], {
      keys: [
        { kind: 'unique', name: 'patients_mrn_key', columns: ['mrn'] },
        { kind: 'referenced', name: 'visits_patient_mrn_fkey', columns: ['mrn'], from: 'clinical.visits', referencing: ['patient_mrn'] },
      ],
    }),
    table(2, 'visits', ['id', 'patient_mrn'], { foreignKeys: [{ name: 'visits_patient_mrn_fkey', columns: ['patient_mrn'], table: 'clinical.patients', referenced: ['mrn'] }] }),
  ],
  { hash: true },
);

function input(read: string[], written: string[]): PolicyInput {
  return { statement: { tables_read: read, tables_written: written } } as unknown as PolicyInput;
}

function decision(action: Decision['action'], masks: Array<[string, string]> = []): Decision {
  return {
    id: 'd1',
    action,
    reason: 'r',
    policies: [],
    masks: masks.map(([table, column]) => ({ table, column, strategy: 'redact', policy: 'p' })),
    engine: 'rego',
    revision: 'x',
    evalMicros: 0,
  };
}

const MRN_MASKED = { verdict: { action: 'allow' as const, reason: '', policies: ['p'], masks: [{ table: 'clinical.patients', column: 'mrn', strategy: 'hash' as const, policy: 'p' }] }, micros: 1, transient: false };

describe('the read probe', () => {
  it("probes a write's targets and the tables its foreign keys reference, less those it reads", () => {
    expect(probeTables(input([], ['clinical.visits']), CATALOG)).toEqual(['clinical.visits', 'clinical.patients']);
    expect(probeTables(input(['clinical.visits'], ['clinical.visits']), CATALOG)).toEqual(['clinical.patients']);
    expect(probeTables(input(['clinical.patients'], []), CATALOG)).toEqual([]);
    // A write to a referenced table: the referencing table too (a DELETE there fails when a row points at it).
    expect(probeTables(input(['clinical.patients'], ['clinical.patients']), CATALOG)).toEqual(['clinical.visits']);
    expect(probeInput(input(['a.b'], ['clinical.visits']), ['clinical.visits']).statement.tables_read).toEqual(['a.b', 'clinical.visits']);
  });

  it('reads masks from the verdict, and tells a denied or failed probe', () => {
    expect(readProbe(['clinical.patients'], MRN_MASKED)).toEqual({ tables: ['clinical.patients'], outcome: 'read', masks: [{ table: 'clinical.patients', column: 'mrn', strategy: 'hash' }] });
    expect(readProbe(['clinical.visits'], MRN_MASKED).masks).toEqual([]);
    expect(readProbe(['clinical.patients'], { ...MRN_MASKED, verdict: { ...MRN_MASKED.verdict, action: 'deny' } }).outcome).toBe('denied');
    expect(readProbe(['clinical.patients'], { ...MRN_MASKED, transient: true }).outcome).toBe('failed');
    expect(readProbe(['clinical.patients'], null).outcome).toBe('failed');
  });

  it("withholds error details of a write to a table with masks, one it may not read, or one the policy could not decide", () => {
    const s = (d: Decision, written: string[], probe?: ProbedStatement['probe']): ProbedStatement => ({ text: '', input: input([], written), decision: d, ...(probe ? { probe } : {}) });
    expect(writesMaskedTable(s(decision('mask', [['clinical.patients', 'mrn']]), ['clinical.patients']), CATALOG)).toBe(true);
    expect(writesMaskedTable(s(decision('allow'), ['clinical.patients'], readProbe(['clinical.patients'], MRN_MASKED)), CATALOG)).toBe(true);
    // A table its constraints or foreign key actions reach has masks: withheld too (R10-8).
    expect(writesMaskedTable(s(decision('allow'), ['clinical.visits'], readProbe(['clinical.visits', 'clinical.patients'], MRN_MASKED)), CATALOG)).toBe(true);
    expect(writesMaskedTable(s(decision('allow'), ['clinical.visits'], readProbe(['clinical.visits', 'clinical.patients'], null)), CATALOG)).toBe(true);
    expect(writesMaskedTable(s(decision('allow'), ['clinical.visits'], readProbe(['clinical.visits'], { ...MRN_MASKED, verdict: { ...MRN_MASKED.verdict, masks: [] } })), CATALOG)).toBe(false);
    expect(writesMaskedTable(s(decision('allow'), ['clinical.visits'], { tables: ['clinical.visits'], outcome: 'denied', masks: [] }), CATALOG)).toBe(true);
    expect(writesMaskedTable(s(decision('allow'), ['clinical.visits'], { tables: ['clinical.visits'], outcome: 'failed', masks: [] }), CATALOG)).toBe(true);
    expect(writesMaskedTable(s(decision('mask', [['clinical.patients', 'mrn']]), []), CATALOG)).toBe(false);
    // A write that only reads a masked table it does not touch otherwise: its errors quote masked values only.
    expect(writesMaskedTable(s(decision('mask', [['clinical.other', 'mrn']]), ['clinical.visits']), CATALOG)).toBe(false);
    expect(readMasksOf(s(decision('allow'), ['clinical.visits'], { tables: ['clinical.visits'], outcome: 'failed', masks: [] }))('clinical.visits')).toBe('unknown');
  });

  it('refuses an existence oracle whatever the decision, naming the column; fine otherwise', () => {
    const probe = readProbe(['clinical.visits', 'clinical.patients'], MRN_MASKED);
    const fk: ProbedStatement = { text: "INSERT INTO clinical.visits (id, patient_mrn) VALUES (1, 'MRN-1')", input: input([], ['clinical.visits']), decision: decision('allow'), probe };
    const refused = existenceRefusal([fk], ['public'], CATALOG);
    expect(refused?.code).toBe('MASKED_COLUMN_READ');
    expect(refused?.message).toContain('"mrn" of clinical.patients');
    expect(existenceRefusal([{ ...fk, text: 'INSERT INTO clinical.visits (id) VALUES (1)' }], ['public'], CATALOG)).toBeNull();
    expect(existenceRefusal([{ ...fk, decision: decision('deny') }], ['public'], CATALOG)).toBeNull();
    // A masked table Gatehouse does not know yet: fail closed.
    const unknown: ProbedStatement = { text: "INSERT INTO clinical.new (mrn) VALUES ('x')", input: input([], ['clinical.new']), decision: decision('mask', [['clinical.new', 'mrn']]) };
    expect(existenceRefusal([unknown], ['public'], CATALOG)?.message).toContain('does not know the constraints of clinical.new');
  });
});
