import { beforeAll, describe, expect, it } from 'vitest';
import { loadModule, parseSync } from 'libpg-query';
import type { MaskRule } from '../policy/types.ts';
import { rewriteForMasks, type RewriteResult } from './mask-rewrite.ts';
import { RelationCatalog, type ColumnInfo, type RelationInfo } from './relation-catalog.ts';
import { RoutineCatalog } from './routine-catalog.ts';

const text = (name: string, attnum: number): ColumnInfo => ({ name, attnum, type: 'text', category: 'S', typeOid: 25 });
const int = (name: string, attnum: number): ColumnInfo => ({ name, attnum, type: 'integer', category: 'N', typeOid: 23 });

function rel(schema: string, name: string, columns: ColumnInfo[], extra: Partial<RelationInfo> = {}): RelationInfo {
  return { oid: Math.floor(Math.random() * 1e6), schema, name, qualified: `${schema}.${name}`, kind: 'table', persistence: 'permanent', columns, reads: [], ancestors: [], ...extra };
}

const catalog = new RelationCatalog(
  [
    rel('clinical', 'patients', [int('id', 1), text('name', 2), text('ssn', 3)]),
    rel('clinical', 'visits', [int('id', 1), int('patient_id', 2), text('notes', 3)]),
    rel('clinical', 'patient_names', [int('id', 1), text('name', 2)], { kind: 'view', reads: ['clinical.patients'] }),
    rel('clinical', 'patients_2024', [int('id', 1), text('name', 2), text('ssn', 3)], { ancestors: ['clinical.patients'] }),
    rel('public', 'patients', [int('id', 1)]),
    rel('pg_catalog', 'pg_class', []),
  ],
  { hash: true },
);

const routines = new RoutineCatalog([
  ...['=', '<', '||', '~~'].map((name) => ({ kind: 'operator' as const, schema: 'pg_catalog', name, harmless: true, retset: false })),
  { kind: 'function', schema: 'pg_catalog', name: 'lower', harmless: true, retset: false },
  ...['count', 'row_to_json'].map((name) => ({ kind: 'function' as const, schema: 'pg_catalog', name, harmless: true, retset: false })),
  { kind: 'function', schema: 'public', name: 'reads_patients', harmless: false, retset: false },
  { kind: 'type', schema: 'pg_catalog', name: 'text', harmless: true, retset: false },
]);

const MASKS: MaskRule[] = [
  { table: 'clinical.patients', column: 'ssn', strategy: 'redact', policy: 'p' },
  { table: 'clinical.patients', column: 'name', strategy: 'hash', policy: 'p' },
];

function rewrite(sql: string, searchPath: string[] = ['clinical', 'public']): RewriteResult {
  const statements = (parseSync(sql) as { stmts?: unknown[] }).stmts?.length ?? 1;
  return rewriteForMasks({ text: sql, masks: Array.from({ length: statements }, () => MASKS), searchPath, relations: catalog, routines });
}

function rewritten(sql: string, searchPath?: string[]): string {
  const r = rewrite(sql, searchPath);
  if (r.kind !== 'rewritten') throw new Error(`expected a rewrite of ${sql}, got ${JSON.stringify(r)}`);
  return r.text.replace(/\s+/g, ' ').trim(); // splices are padded with spaces
}

function refusal(sql: string): string {
  const r = rewrite(sql);
  if (r.kind !== 'refused') throw new Error(`expected a refusal of ${sql}, got ${JSON.stringify(r)}`);
  return r.refusal.message;
}

const DERIVED =
  '(SELECT gatehouse_masked."id", gatehouse.gatehouse_mask_hash(\'clinical.patients.name\', CAST(gatehouse_masked."name" AS pg_catalog.text)) AS "name", ' +
  'CAST(CASE WHEN gatehouse_masked."ssn" IS NULL THEN NULL ELSE \'***\' END AS text) AS "ssn" FROM "clinical"."patients" AS gatehouse_masked)';

beforeAll(async () => {
  await loadModule();
});

describe('rewriteForMasks', () => {
  it('replaces a qualified masked table by its derived table, named like the table', () => {
    expect(rewritten('SELECT ssn FROM clinical.patients WHERE ssn = $1')).toBe(`SELECT ssn FROM ${DERIVED} AS "patients" WHERE ssn = $1`);
  });

  it('keeps the alias and its column list as written', () => {
    expect(rewritten('SELECT j.c FROM clinical.patients AS p(a, b, c) JOIN clinical.visits v ON v.patient_id = p.a')).toContain(`${DERIVED} AS p(a, b, c)`);
  });

  it('resolves unqualified names through the search path, and pins a same-named table decided as another', () => {
    expect(rewritten('SELECT * FROM patients')).toContain(DERIVED);
    // With public first, `patients` is public.patients: left unmasked but written qualified.
    expect(rewritten('SELECT * FROM patients', ['public', 'clinical'])).toBe('SELECT * FROM "public"."patients"');
  });

  it('rewrites TABLE t, ONLY t, ONLY (t) and t *', () => {
    expect(rewritten('TABLE clinical.patients')).toBe(`SELECT * FROM ${DERIVED} AS "patients"`);
    expect(rewritten('SELECT * FROM ONLY clinical.patients p')).toContain('FROM ONLY "clinical"."patients" AS gatehouse_masked) p');
    expect(rewritten('SELECT * FROM ONLY (clinical.patients) p')).toContain('FROM ONLY "clinical"."patients" AS gatehouse_masked) p');
    expect(rewritten('SELECT * FROM clinical.patients * p')).toContain(`${DERIVED} p`);
  });

  it('rewrites masked tables in subqueries, CTEs, LATERAL, set operations, EXPLAIN, cursors, PREPARE and CREATE TABLE AS', () => {
    for (const sql of [
      'SELECT id FROM clinical.visits WHERE patient_id IN (SELECT id FROM clinical.patients WHERE ssn LIKE $1)',
      'WITH x AS (SELECT * FROM clinical.patients) SELECT * FROM x',
      'SELECT * FROM clinical.visits v, LATERAL (SELECT ssn FROM clinical.patients p WHERE p.id = v.patient_id) s',
      'SELECT ssn FROM clinical.patients UNION SELECT notes FROM clinical.visits',
      'EXPLAIN ANALYZE SELECT * FROM clinical.patients ORDER BY ssn',
      'DECLARE c CURSOR FOR SELECT ssn FROM clinical.patients',
      'PREPARE q AS SELECT ssn FROM clinical.patients WHERE id = $1',
      'CREATE TEMP TABLE scratch AS SELECT ssn FROM clinical.patients',
      'SELECT ssn INTO TEMP scratch FROM clinical.patients',
      'MERGE INTO clinical.visits v USING clinical.patients p ON v.patient_id = p.id WHEN MATCHED THEN DO NOTHING',
      'UPDATE clinical.visits v SET notes = p.ssn FROM clinical.patients p WHERE p.id = v.patient_id',
    ]) {
      expect(rewritten(sql), sql).toContain(DERIVED);
    }
  });

  it('rewrites statements with IN lists, ARRAY[...] and JSON_TABLE path names (PostgreSQL 18 positions are not structure)', () => {
    for (const sql of [
      'SELECT id FROM clinical.patients WHERE id IN (1, 2, 3)',
      'SELECT id FROM clinical.patients WHERE ssn IN ($1, $2)',
      'SELECT id, ssn FROM clinical.patients WHERE id = ANY (ARRAY[1, 2])',
      "SELECT j.* FROM clinical.patients p, JSON_TABLE('[1]'::jsonb, '$[*]' AS path1 COLUMNS (x int PATH '$')) j",
    ]) {
      expect(rewritten(sql), sql).toContain(DERIVED);
    }
  });

  it('turns COPY of a masked table into COPY of its masked query, column list included', () => {
    // COPY t TO copies t's own rows, not its children's, as PostgreSQL does: ONLY.
    const only = DERIVED.replace('FROM "clinical"', 'FROM ONLY "clinical"');
    expect(rewritten('COPY clinical.patients TO STDOUT')).toBe(`COPY (SELECT * FROM ${only} AS "patients") TO STDOUT`);
    expect(rewritten('COPY clinical.patients (id, ssn) TO STDOUT WITH (FORMAT csv)')).toBe(
      `COPY (SELECT "id", "ssn" FROM ${only} AS "patients") TO STDOUT WITH (FORMAT csv)`,
    );
    expect(rewritten('COPY (SELECT ssn FROM clinical.patients) TO STDOUT')).toContain(DERIVED);
  });

  it('masks a partition or child table with its masked parent\'s rules', () => {
    expect(rewritten('SELECT ssn FROM clinical.patients_2024')).toContain('FROM "clinical"."patients_2024" AS gatehouse_masked');
  });

  it('keeps comments, odd spacing and non-ASCII text around the name', () => {
    const out = rewritten("SELECT 'é', ssn FROM clinical . /* c */ patients -- x\n WHERE name = 'ü'");
    expect(out).toContain(DERIVED);
    expect(out).toContain("WHERE name = 'ü'");
  });

  it('masks each statement of a query string by its own decision', () => {
    const sql = 'SELECT 1; SELECT ssn FROM clinical.patients';
    const r = rewriteForMasks({ text: sql, masks: [[], MASKS], searchPath: ['clinical'], relations: catalog, routines });
    expect(r.kind === 'rewritten' && r.text.replace(/\s+/g, ' ')).toBe(`SELECT 1; SELECT ssn FROM ${DERIVED} AS "patients" `);
  });

  it('says which masks each statement applies: the masked columns it names, or all through a star, whole row or renamed columns', () => {
    const applied = (sql: string): string[] => {
      const r = rewrite(sql);
      if (r.kind !== 'rewritten') throw new Error(`expected a rewrite of ${sql}, got ${JSON.stringify(r)}`);
      return r.applied.flatMap((ms) => ms.map((m) => `${m.column}:${m.strategy}`)).sort();
    };
    expect(applied('SELECT id FROM clinical.patients')).toEqual([]);
    expect(applied('SELECT count(*) FROM clinical.patients')).toEqual([]);
    expect(applied('SELECT p.id FROM clinical.patients p JOIN clinical.visits v ON v.patient_id = p.id')).toEqual([]);
    expect(applied('COPY clinical.patients (id) TO STDOUT')).toEqual([]);
    expect(applied('SELECT id FROM clinical.patients WHERE ssn = $1')).toEqual(['ssn:redact']);
    expect(applied('SELECT p.name FROM clinical.patients p')).toEqual(['name:hash']);
    expect(applied('SELECT (x).ssn FROM (SELECT p FROM clinical.patients p) s(x)')).toEqual(['name:hash', 'ssn:redact']);
    for (const all of [
      'SELECT * FROM clinical.patients',
      'TABLE clinical.patients',
      'SELECT p.* FROM clinical.patients p',
      'SELECT row_to_json(p) FROM clinical.patients p',
      'SELECT patients FROM clinical.patients',
      'SELECT c FROM clinical.patients AS p(a, b, c)',
      'SELECT id FROM clinical.patients NATURAL JOIN clinical.visits',
      'SELECT j FROM (clinical.patients p JOIN clinical.visits v ON v.patient_id = p.id) AS j',
      'COPY clinical.patients TO STDOUT',
    ]) {
      expect(applied(all), all).toEqual(['name:hash', 'ssn:redact']);
    }
    // Per statement: the first reads no masked column, the second reads one.
    const r = rewrite('SELECT id FROM clinical.patients; SELECT ssn FROM clinical.patients');
    expect(r.kind === 'rewritten' ? r.applied.map((ms) => ms.map((m) => m.column)) : null).toEqual([[], ['ssn']]);
  });

  it('leaves statements without masked tables alone', () => {
    expect(rewrite('SELECT notes FROM clinical.visits').kind).toBe('unchanged');
  });

  it('refuses a write that may read masked columns of its masked target (42501), naming them (R5-4)', () => {
    const refused = (sql: string): { message: string; code?: string } => {
      const r = rewrite(sql);
      if (r.kind !== 'refused') throw new Error(`expected a refusal of ${sql}, got ${JSON.stringify(r)}`);
      return r.refusal;
    };
    for (const [sql, what] of [
      ['UPDATE clinical.patients SET name = name WHERE id = 1', /column "name" of clinical.patients/],
      ['DELETE FROM clinical.patients WHERE ssn = $1', /column "ssn"/],
      ['UPDATE clinical.patients SET id = id WHERE id = 1 RETURNING ssn, name', /columns "ssn", "name"/],
      ['UPDATE clinical.patients p SET id = 2 WHERE p.id = 1 RETURNING p.ssn', /column "ssn"/],
      ['DELETE FROM clinical.patients WHERE id = 1 RETURNING *', /every column/],
      ['DELETE FROM clinical.patients x WHERE id = 1 RETURNING x', /every column/],
      ['UPDATE clinical.patients SET id = 1 RETURNING row_to_json(patients)', /every column/],
      ['UPDATE clinical.patients SET id = 1 RETURNING old.*', /every column/],
      ["INSERT INTO clinical.patients (id, ssn) VALUES (1, 'x') ON CONFLICT (ssn) DO NOTHING", /column "ssn"/],
      ["INSERT INTO clinical.patients (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET name = excluded.name", /column "name"/],
      ['MERGE INTO clinical.patients t USING clinical.visits v ON t.ssn = v.notes WHEN MATCHED THEN DELETE', /column "ssn"/],
      ['WITH u AS (UPDATE patients SET id = 2 WHERE id = 1 RETURNING ssn) SELECT count(*) FROM u', /column "ssn"/],
    ] as const) {
      const r = refused(sql);
      expect(r.code, sql).toBe('MASKED_COLUMN_READ');
      expect(r.message, sql).toMatch(what);
    }
  });

  it('runs a write to a masked table that reads none of its masked columns, the target as it is', () => {
    for (const sql of [
      "UPDATE clinical.patients SET ssn = 'x' WHERE id = 1",
      "UPDATE clinical.patients SET ssn = 'x' WHERE id = 1 RETURNING id",
      "INSERT INTO clinical.patients (id, name, ssn) VALUES (1, 'a', 'b')",
      'DELETE FROM clinical.patients WHERE id = $1',
      "INSERT INTO clinical.patients (id, ssn) VALUES (1, 'x') ON CONFLICT (id) DO UPDATE SET ssn = 'y'",
    ]) {
      expect(rewrite(sql).kind, sql).toBe('unchanged');
    }
    // A masked table read in the same write is still rewritten.
    expect(rewritten("UPDATE clinical.visits v SET notes = 'x' FROM clinical.patients p WHERE p.id = v.patient_id AND p.ssn = '1'")).toContain(`FROM ${DERIVED} p`);
  });

  it('rewrites a table under content detection: the scanned column, identifiers replaced in SQL (R5-3)', () => {
    const detections = [{ table: 'clinical.visits', column: 'notes', detectors: ['ssn' as const, 'email' as const], policies: ['d'] }];
    const r = rewriteForMasks({ text: 'SELECT lower(notes) FROM clinical.visits v WHERE notes LIKE $1', masks: [[]], detections: [detections], searchPath: ['public'], relations: catalog, routines });
    expect(r.kind).toBe('rewritten');
    const text = r.kind === 'rewritten' ? r.text : '';
    expect(text).toContain('gatehouse_masked."id", gatehouse_masked."patient_id", CAST(pg_catalog.regexp_replace(pg_catalog.regexp_replace(CAST(gatehouse_masked."notes" AS pg_catalog.text)');
    expect(text).toMatch(/'gi'\) AS text\) AS "notes" FROM "clinical"\."visits" AS gatehouse_masked\)\s+v WHERE notes LIKE \$1/);
    // Nothing is masked: the audit record applies no mask.
    expect(r.kind === 'rewritten' && r.applied).toEqual([[]]);
  });

  it('refuses what it cannot rewrite: COPY FROM, LOCK, a WITH query named like a masked table, a view over it', () => {
    expect(refusal('COPY clinical.patients FROM STDIN')).toMatch(/COPY FROM/);
    expect(refusal('WITH patients AS (SELECT 1) SELECT * FROM patients')).toMatch(/WITH query "patients"/);
    expect(refusal('SELECT * FROM clinical.patient_names')).toMatch(/view clinical.patient_names reads masked table clinical.patients/);
    expect(refusal('LOCK TABLE clinical.patients')).toMatch(/other than as a table to read from/);
  });

  it('refuses user-defined routines, unknown functions and DO blocks under a mask, not built-ins', () => {
    expect(rewrite('SELECT lower(ssn)::text FROM clinical.patients WHERE ssn = $1 OR name < $2').kind).toBe('rewritten');
    expect(refusal('SELECT reads_patients(id) FROM clinical.patients')).toMatch(/reads_patients is user-defined/);
    expect(refusal('SELECT p.reads_patients FROM clinical.patients p')).toMatch(/field position/);
    expect(refusal('SELECT brand_new(id) FROM clinical.patients')).toMatch(/not one Gatehouse knows/);
    expect(refusal("DO $$ BEGIN PERFORM 1 FROM clinical.patients; END $$")).toMatch(/DO blocks/);
  });

  it('refuses keyed strategies when the masking functions are not installed', () => {
    const bare = new RelationCatalog([rel('clinical', 'patients', [int('id', 1), text('name', 2), text('ssn', 3)])], { hash: false });
    const r = rewriteForMasks({ text: 'SELECT id FROM clinical.patients', masks: [MASKS], searchPath: ['public'], relations: bare, routines });
    expect(r.kind === 'refused' && r.refusal.hint).toMatch(/gatehouse db setup/);
  });

  it('fails closed for a masked table the snapshot does not hold yet', () => {
    const masks: MaskRule[] = [{ table: 'clinical.newer', column: 'ssn', strategy: 'redact', policy: 'p' }];
    const r = rewriteForMasks({ text: 'SELECT ssn FROM clinical.newer', masks: [masks], searchPath: ['public'], relations: catalog, routines });
    expect(r.kind === 'refused' && r.refusal.message).toMatch(/does not know the columns of masked table clinical.newer/);
  });

  it('fails closed without a relation snapshot', () => {
    const r = rewriteForMasks({ text: 'SELECT id FROM clinical.patients', masks: [MASKS], searchPath: ['public'], relations: null, routines });
    expect(r.kind).toBe('refused');
  });
});
