import { beforeAll, describe, expect, it } from 'vitest';
import { loadSqlParser } from '../sql/parser.ts';
import { buildRelationCatalog, type RelationRows } from './relation-snapshot.ts';
import { polledLockKey } from './ddl-locks.ts';

const column = (name: string, attnum: number) => ({ name, attnum, type: 'text', category: 'S', typeOid: 25 });

const ROWS: RelationRows = {
  relations: [
    { oid: 1, schema: 'clinical', name: 'patients', kind: 'r', persistence: 'p', definition: null, columns: [column('id', 1), column('mrn', 2), column('ssn', 3)] },
    { oid: 2, schema: 'clinical', name: 'visits', kind: 'r', persistence: 'p', definition: null, columns: [column('id', 1), column('patient_id', 2), column('patient_mrn', 3)] },
  ],
  viewReads: [],
  viewCalls: [],
  inherits: [],
  keyIndexes: [
    { rel: 1, kind: 'unique', name: 'patients_pkey', columns: ['id'] },
    { rel: 1, kind: 'unique', name: 'patients_mrn_key', columns: ['mrn'] },
    { rel: 1, kind: 'exclusion', name: 'patients_ssn_excl', columns: ['ssn'] },
  ],
  foreignKeys: [{ rel: 2, referenced: 1, name: 'visits_fkey', columns: ['patient_id', 'patient_mrn'], referencedColumns: ['id', 'mrn'] }],
  maskFunctions: { hash: true, superuser: false },
};

describe('buildRelationCatalog: constraints', () => {
  it("gives each table its unique and exclusion indexes, the columns other tables' foreign keys reference, and its own foreign keys", () => {
    const catalog = buildRelationCatalog(ROWS);
    expect(catalog.get('clinical.patients')?.keys).toEqual([
      { kind: 'unique', name: 'patients_pkey', columns: ['id'] },
      { kind: 'unique', name: 'patients_mrn_key', columns: ['mrn'] },
      { kind: 'exclusion', name: 'patients_ssn_excl', columns: ['ssn'] },
      { kind: 'referenced', name: 'visits_fkey', columns: ['id', 'mrn'], from: 'clinical.visits', referencing: ['patient_id', 'patient_mrn'] },
    ]);
    expect(catalog.get('clinical.patients')?.foreignKeys).toBeUndefined();
    expect(catalog.get('clinical.visits')?.foreignKeys).toEqual([{ name: 'visits_fkey', columns: ['patient_id', 'patient_mrn'], table: 'clinical.patients', referenced: ['id', 'mrn'] }]);
    expect(catalog.get('clinical.visits')?.keys).toEqual(undefined);
  });

  it('gives each relation its constraint fingerprint, when one was read (R10-10)', () => {
    const catalog = buildRelationCatalog({ ...ROWS, structure: [{ rel: 1, print: 'p1' }] });
    expect(catalog.get('clinical.patients')?.structure).toBe('p1');
    expect(catalog.get('clinical.visits')?.structure).toBeUndefined();
    expect(buildRelationCatalog(ROWS).get('clinical.patients')?.structure).toBeUndefined();
  });

  it('knows no constraint from rows read without them', () => {
    const { keyIndexes: _k, foreignKeys: _f, ...older } = ROWS;
    expect(buildRelationCatalog(older).get('clinical.patients')?.keys).toBeUndefined();
  });
});

describe('buildRelationCatalog: triggers and foreign-key actions', () => {
  it("gives each relation its triggers, and a referenced table the tables its foreign keys' actions write", () => {
    const rows: RelationRows = {
      ...ROWS,
      foreignKeys: [
        { rel: 2, referenced: 1, name: 'visits_fkey', columns: ['patient_id'], referencedColumns: ['id'], onUpdate: 'a', onDelete: 'c' },
      ],
      triggers: [{ rel: 2, name: 'visits_log', type: 1 | 4, functionSchema: 'clinical', functionName: 'log_visit', language: 'plpgsql', securityDefiner: false }],
    };
    const catalog = buildRelationCatalog(rows);
    expect(catalog.get('clinical.patients')?.actionWrites).toEqual(['clinical.visits']);
    expect(catalog.get('clinical.visits')?.actionWrites).toBeUndefined();
    expect(catalog.get('clinical.visits')?.triggers).toEqual([
      { name: 'visits_log', table: 'clinical.visits', function: 'clinical.log_visit', language: 'plpgsql', security_definer: false, timing: 'after', level: 'row', events: ['insert'] },
    ]);
    expect(catalog.get('clinical.patients')?.triggers).toBeUndefined();
  });

  it('a foreign key that only checks (NO ACTION, RESTRICT) writes nothing', () => {
    const rows: RelationRows = {
      ...ROWS,
      foreignKeys: [{ rel: 2, referenced: 1, name: 'visits_fkey', columns: ['patient_id'], referencedColumns: ['id'], onUpdate: 'r', onDelete: 'a' }],
    };
    expect(buildRelationCatalog(rows).get('clinical.patients')?.actionWrites).toBeUndefined();
  });
});

describe('buildRelationCatalog: view definitions locked by another transaction (R12-9)', () => {
  beforeAll(async () => {
    await loadSqlParser(); // the free views' definitions are parsed
  });
  const view = (oid: number, name: string, locked: boolean) => ({ oid, schema: 'public', name, kind: 'v', persistence: 'p', definition: locked ? null : 'SELECT 1', definitionLocked: locked, columns: [] });
  const rows: RelationRows = {
    relations: [...ROWS.relations, view(10, 'locked_v', true), view(11, 'over_locked', false), view(12, 'free_v', false)],
    viewReads: [
      { view: 10, reads: 1 },
      { view: 11, reads: 10 },
      { view: 12, reads: 2 },
    ],
    viewCalls: [],
    inherits: [],
    maskFunctions: { hash: true, superuser: false },
  };

  it('marks the locked view and every view that reads it, and nothing else', () => {
    const catalog = buildRelationCatalog(rows);
    expect(catalog.get('public.locked_v')?.definitionLocked).toBe(true);
    expect(catalog.get('public.over_locked')?.definitionLocked).toBe(true);
    expect(catalog.get('public.free_v')?.definitionLocked).toBeUndefined();
    expect(catalog.get('clinical.patients')?.definitionLocked).toBeUndefined();
  });
});

describe('buildRelationCatalog: DDL locks of other backends (R14-3)', () => {
  it("gives each relation the locks read with it, in a stable order, and the snapshot a key a poll's rows match", () => {
    const rows: RelationRows = {
      ...ROWS,
      relations: [
        { ...ROWS.relations[0]!, lockedBy: [{ pid: 77, mode: 'ShareLock' }, { pid: 12, mode: 'AccessExclusiveLock' }] },
        { ...ROWS.relations[1]!, lockedBy: null },
      ],
    };
    const catalog = buildRelationCatalog(rows);
    expect(catalog.get('clinical.patients')?.lockedBy).toEqual([
      { pid: 12, mode: 'access_exclusive' },
      { pid: 77, mode: 'share' },
    ]);
    expect(catalog.get('clinical.visits')?.lockedBy).toBeUndefined();
    expect(catalog.anyLocked).toBe(true);
    expect(catalog.lockKey).toBe(
      polledLockKey([
        { oid: 1, pid: 77, mode: 'ShareLock' },
        { oid: 1, pid: 12, mode: 'AccessExclusiveLock' },
      ]),
    );
    expect(catalog.lockKey).not.toBe(polledLockKey([{ oid: 1, pid: 12, mode: 'AccessExclusiveLock' }]));
    expect(buildRelationCatalog(ROWS).anyLocked).toBe(false);
    expect(buildRelationCatalog(ROWS).lockKey).toBe(polledLockKey([]));
  });
});
