import { beforeAll, describe, expect, it } from 'vitest';
import type { MaskStrategy } from '../policy/types.ts';
import { loadSqlParser } from '../sql/parser.ts';
import { existenceOracle, type ReadMasksOf } from './existence-oracles.ts';
import { RelationCatalog, type RelationInfo } from './relation-catalog.ts';

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
    table(1, 'patients', ['id', 'mrn', 'ssn', 'phone', 'room', 'during', 'notes'], {
      keys: [
        { kind: 'unique', name: 'patients_pkey', columns: ['id'] },
        { kind: 'unique', name: 'patients_mrn_key', columns: ['mrn'] },
        { kind: 'exclusion', name: 'patients_room_excl', columns: ['room', 'during'] },
        { kind: 'referenced', name: 'visits_patient_ssn_fkey', columns: ['ssn'], from: 'clinical.visits', referencing: ['patient_ssn'] },
      ],
    }),
    table(2, 'visits', ['id', 'patient_id', 'patient_ssn', 'notes'], {
      keys: [{ kind: 'unique', name: 'visits_pkey', columns: ['id'] }],
      foreignKeys: [
        { name: 'visits_patient_id_fkey', columns: ['patient_id'], table: 'clinical.patients', referenced: ['id'] },
        { name: 'visits_patient_ssn_fkey', columns: ['patient_ssn'], table: 'clinical.patients', referenced: ['ssn'] },
      ],
    }),
    table(3, 'patients_2026', ['id', 'mrn', 'ssn', 'phone', 'room', 'during', 'notes'], {
      ancestors: ['clinical.patients'],
      keys: [{ kind: 'unique', name: 'patients_2026_mrn_key', columns: ['mrn'] }],
    }),
    table(4, 'pairs', ['id', 'room', 'guest'], { keys: [{ kind: 'unique', name: 'pairs_room_guest_key', columns: ['room', 'guest'] }] }),
    table(5, 'parted', ['id', 'region', 'code', 'patient_mrn'], { kind: 'partitioned_table', partitionKey: ['region'] }),
    table(6, 'parted_1', ['id', 'region', 'code', 'patient_mrn'], {
      ancestors: ['clinical.parted'],
      keys: [{ kind: 'unique', name: 'parted_1_code_key', columns: ['code'] }],
      foreignKeys: [{ name: 'parted_1_mrn_fkey', columns: ['patient_mrn'], table: 'clinical.patients', referenced: ['mrn'] }],
    }),
    table(7, 'inbox', ['id', 'mrn'], { reads: ['clinical.patients'] }),
    table(8, 'parents', ['code'], {
      keys: [
        { kind: 'unique', name: 'parents_pkey', columns: ['code'] },
        { kind: 'referenced', name: 'children_parent_fkey', columns: ['code'], from: 'clinical.children', referencing: ['parent_code'] },
      ],
    }),
    table(9, 'children', ['id', 'parent_code', 'secret'], {
      keys: [{ kind: 'unique', name: 'children_parent_secret_key', columns: ['parent_code', 'secret'] }],
      foreignKeys: [{ name: 'children_parent_fkey', columns: ['parent_code'], table: 'clinical.parents', referenced: ['code'] }],
    }),
  ],
  { hash: true },
);

/** Patients read with mrn, ssn, phone, room and notes masked; nothing else masked. */
const PATIENTS_MASKED: ReadMasksOf = (t) =>
  new Map<string, MaskStrategy>(t === 'clinical.patients' ? (['mrn', 'ssn', 'phone', 'room', 'notes'].map((c) => [c, 'redact']) as Array<[string, MaskStrategy]>) : []);
const NOTHING_MASKED: ReadMasksOf = () => new Map();

const check = (sql: string, masks: ReadMasksOf = PATIENTS_MASKED) => existenceOracle(sql, ['clinical', 'public'], CATALOG, masks);

describe('existenceOracle', () => {
  it('refuses a write assigning a masked column under a unique index, exclusion constraint or a referencing foreign key', () => {
    for (const [sql, column, what] of [
      ["INSERT INTO clinical.patients (id, mrn) VALUES (9, 'MRN-1')", 'mrn', 'unique index patients_mrn_key'],
      ["INSERT INTO patients VALUES (9, 'MRN-1')", 'mrn', 'unique index patients_mrn_key'],
      ["UPDATE clinical.patients SET mrn = 'MRN-1' WHERE id = 1", 'mrn', 'unique index patients_mrn_key'],
      ["UPDATE clinical.patients SET room = 4 WHERE id = 1", 'room', 'exclusion constraint patients_room_excl'],
      ["UPDATE clinical.patients SET ssn = 'x' WHERE id = 1", 'ssn', 'foreign key visits_patient_ssn_fkey of clinical.visits'],
      ["MERGE INTO clinical.patients t USING (SELECT 9 AS id) s ON t.id = s.id WHEN NOT MATCHED THEN INSERT (id, mrn) VALUES (s.id, 'M')", 'mrn', 'unique index'],
      ["MERGE INTO clinical.patients t USING (SELECT 9 AS id) s ON t.id = s.id WHEN MATCHED THEN UPDATE SET mrn = 'M'", 'mrn', 'unique index'],
      ["INSERT INTO clinical.patients (id) VALUES (9) ON CONFLICT (id) DO UPDATE SET mrn = 'M'", 'mrn', 'unique index'],
      ["WITH w AS (INSERT INTO clinical.patients (id, mrn) VALUES (9, 'M') RETURNING id) SELECT count(*) FROM w", 'mrn', 'unique index'],
      ['INSERT INTO clinical.patients SELECT * FROM clinical.patients_2026', 'mrn', 'unique index'],
    ] as const) {
      const r = check(sql);
      expect(r, sql).not.toBeNull();
      expect(r!.message, sql).toContain(`"${column}"`);
      expect(r!.message, sql).toContain(what);
      expect(r!.message, sql).toContain('existence oracle');
    }
  });

  it('lets through writes that assign unconstrained masked columns, or constrained unmasked ones', () => {
    for (const sql of [
      "UPDATE clinical.patients SET phone = '555' WHERE id = 1",
      "UPDATE clinical.patients SET notes = 'n' WHERE id = 1",
      "INSERT INTO clinical.patients (id, phone) VALUES (9, '555')",
      'INSERT INTO clinical.patients VALUES (9)',
      'DELETE FROM clinical.patients WHERE id = 9',
      "INSERT INTO clinical.visits (id, patient_id, notes) VALUES (1, 1, 'n')",
      "SELECT mrn FROM clinical.patients WHERE mrn = 'x'",
    ]) {
      expect(check(sql), sql).toBeNull();
    }
    expect(check("INSERT INTO clinical.patients (id, mrn) VALUES (9, 'M')", NOTHING_MASKED)).toBeNull();
  });

  it("refuses a write to another table whose foreign key looks the value up in a masked column", () => {
    const r = check("INSERT INTO clinical.visits (id, patient_ssn) VALUES (1, '219-09-9999')");
    expect(r?.message).toContain('foreign key visits_patient_ssn_fkey');
    expect(r?.message).toContain('"ssn" of clinical.patients');
    expect(check("UPDATE clinical.visits SET patient_ssn = 'x' WHERE id = 1")).not.toBeNull();
    expect(check('INSERT INTO clinical.visits VALUES (1, 1, 2)')).not.toBeNull();
    expect(check('INSERT INTO clinical.visits VALUES (1, 1)')).toBeNull();
    // COPY FROM fills the columns it names, or every column.
    expect(check('COPY clinical.visits FROM STDIN')?.message).toContain('visits_patient_ssn_fkey');
    expect(check('COPY clinical.visits (id, patient_ssn) FROM STDIN')?.message).toContain('visits_patient_ssn_fkey');
    expect(check('COPY clinical.visits (id, patient_id, notes) FROM STDIN')).toBeNull();
    expect(check('COPY clinical.visits TO STDOUT')).toBeNull();
  });

  it('refuses ON CONFLICT without a conflict target, or naming a constraint, over a masked column', () => {
    expect(check('INSERT INTO clinical.patients (id) VALUES (9) ON CONFLICT DO NOTHING')?.message).toContain('ON CONFLICT without a conflict target');
    expect(check('INSERT INTO clinical.patients (id) VALUES (9) ON CONFLICT ON CONSTRAINT patients_mrn_key DO NOTHING')?.message).toContain('ON CONSTRAINT patients_mrn_key');
    expect(check('INSERT INTO clinical.patients (id) VALUES (9) ON CONFLICT ON CONSTRAINT patients_pkey DO NOTHING')).toBeNull();
    expect(check('INSERT INTO clinical.patients (id) VALUES (9) ON CONFLICT (id) DO NOTHING')).toBeNull();
    expect(check('INSERT INTO clinical.visits (id) VALUES (9) ON CONFLICT DO NOTHING')).toBeNull();
  });

  it('refuses a DELETE, or a key update, of rows a masked referencing column may point at', () => {
    // visits.patient_ssn references patients.ssn; here visits.patient_ssn is masked, patients is not.
    const visitsMasked: ReadMasksOf = (t) => new Map<string, MaskStrategy>(t === 'clinical.visits' ? [['patient_ssn', 'redact']] : []);
    const denied = check('DELETE FROM clinical.patients WHERE id = 1', visitsMasked);
    expect(denied?.message).toContain('deletes rows of clinical.patients');
    expect(denied?.message).toContain('"patient_ssn"');
    expect(check("UPDATE clinical.patients SET ssn = 'x' WHERE id = 1", visitsMasked)?.message).toContain('changes referenced keys');
    expect(check('MERGE INTO clinical.patients t USING (SELECT 1 AS id) s ON t.id = s.id WHEN MATCHED THEN DELETE', visitsMasked)).not.toBeNull();
    expect(check("UPDATE clinical.patients SET phone = 'x' WHERE id = 1", visitsMasked)).toBeNull();
    expect(check("INSERT INTO clinical.patients (id, ssn) VALUES (9, 'x')", visitsMasked)).toBeNull();
    expect(check('DELETE FROM clinical.visits WHERE id = 1', visitsMasked)).toBeNull();
    expect(check('DELETE FROM clinical.patients WHERE id = 1', NOTHING_MASKED)).toBeNull();
  });

  it("counts a partition's parent masks, and every column when the policy could not tell", () => {
    expect(check("INSERT INTO clinical.patients_2026 (id, mrn) VALUES (9, 'M')")?.message).toContain('patients_2026_mrn_key');
    const unknown: ReadMasksOf = (t) => (t === 'clinical.patients' ? 'unknown' : new Map());
    expect(check('INSERT INTO clinical.patients (id) VALUES (9)', unknown)?.message).toContain('patients_pkey');
    expect(check('INSERT INTO clinical.visits (id, patient_id) VALUES (9, 1)', unknown)?.message).toContain('visits_patient_id_fkey');
  });

  it('counts every column of a key a write assigns part of (R10-1), the keys of partitions and children (R10-2) and tables rules reach (R10-7)', () => {
    const guests: ReadMasksOf = (t) => new Map<string, MaskStrategy>(t === 'clinical.pairs' ? [['guest', 'redact']] : t === 'clinical.parted' ? [['code', 'redact']] : []);
    expect(check('UPDATE clinical.pairs SET room = 101 WHERE id = 2', guests)?.message).toContain('"guest"');
    expect(check('INSERT INTO clinical.pairs (id, room) VALUES (9, 101)', guests)?.message).toContain('pairs_room_guest_key');
    expect(check("UPDATE clinical.pairs SET id = 9 WHERE id = 2", guests)).toBeNull();
    expect(check("INSERT INTO clinical.parted (id, region, code) VALUES (9, 1, 'c')", guests)?.message).toContain('parted_1_code_key');
    expect(check("UPDATE clinical.parted SET code = 'c' WHERE id = 1", guests)?.message).toContain('parted_1_code_key');
    expect(check("UPDATE ONLY clinical.parted SET code = 'c' WHERE id = 1", guests)).toBeNull();
    // Updating the partition key moves whole rows into a partition, under its keys (R10-9).
    expect(check('UPDATE clinical.parted SET region = 2 WHERE id = 1', guests)?.message).toContain('parted_1_code_key');
    expect(check('UPDATE clinical.parted SET id = 2 WHERE id = 1', guests)).toBeNull();
    expect(check('COPY clinical.parted FROM STDIN', guests)?.message).toContain('parted_1_code_key');
    expect(check("INSERT INTO clinical.parted (id, region, patient_mrn) VALUES (9, 1, 'M')")?.message).toContain('parted_1_mrn_fkey');
    expect(check("INSERT INTO clinical.inbox VALUES (9, 'M')")?.message).toContain('rules that reach clinical.patients');
    expect(check("INSERT INTO clinical.inbox VALUES (9, 'M')", NOTHING_MASKED)).toBeNull();
    // A foreign key action writes the referencing columns, under a key with a masked column (R10-8).
    const secrets: ReadMasksOf = (t) => new Map<string, MaskStrategy>(t === 'clinical.children' ? [['secret', 'redact']] : []);
    expect(check('DELETE FROM clinical.parents WHERE code = 2', secrets)?.message).toContain('children_parent_secret_key');
    expect(check('UPDATE clinical.parents SET code = 9 WHERE code = 2', secrets)?.message).toContain('children_parent_secret_key');
    expect(check('DELETE FROM clinical.parents WHERE code = 2', NOTHING_MASKED)).toBeNull();
  });
});
