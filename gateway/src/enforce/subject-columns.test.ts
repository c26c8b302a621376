import { beforeAll, describe, expect, it } from 'vitest';
import { loadModule, parseSync } from 'libpg-query';
import type { MaskRule } from '../policy/types.ts';
import { rewriteForMasks } from './mask-rewrite.ts';
import { RelationCatalog, type ColumnInfo, type RelationInfo } from './relation-catalog.ts';
import { RoutineCatalog } from './routine-catalog.ts';
import { planSubjects, type SubjectRewrite } from './subject-columns.ts';

const text = (name: string, attnum: number): ColumnInfo => ({ name, attnum, type: 'text', category: 'S', typeOid: 25 });
const int = (name: string, attnum: number): ColumnInfo => ({ name, attnum, type: 'integer', category: 'N', typeOid: 23 });

function rel(schema: string, name: string, columns: ColumnInfo[], extra: Partial<RelationInfo> = {}): RelationInfo {
  return { oid: Math.floor(Math.random() * 1e6), schema, name, qualified: `${schema}.${name}`, kind: 'table', persistence: 'permanent', columns, reads: [], ancestors: [], ...extra };
}

const relations = new RelationCatalog(
  [
    rel('clinical', 'patients', [int('id', 1), text('name', 2), text('ssn', 3)]),
    rel('clinical', 'visits', [int('id', 1), int('patient_id', 2), text('notes', 3)]),
    rel('clinical', 'codes', [text('code', 1)]),
  ],
  { hash: true },
);
const routines = new RoutineCatalog([
  { kind: 'function', schema: 'pg_catalog', name: 'lower', harmless: true, retset: false },
  { kind: 'function', schema: 'public', name: 'my_agg', harmless: false, retset: false },
]);
const phi = new Map([
  ['clinical.patients', 'id'],
  ['clinical.visits', 'patient_id'],
]);

function plan(sql: string, touched: string[] = ['clinical.patients'], masked: string[] = []): SubjectRewrite {
  const n = (parseSync(sql) as { stmts?: unknown[] }).stmts?.length ?? 1;
  return planSubjects({
    text: sql,
    touched: Array.from({ length: n }, () => touched),
    masked: Array.from({ length: n }, () => new Set(masked)),
    phi,
    searchPath: ['clinical'],
    relations,
    routines,
  });
}

beforeAll(async () => {
  await loadModule();
});

describe('planSubjects: SELECT', () => {
  it('adds the subject column of each PHI table of the top-level FROM at the end of the select list', () => {
    const r = plan('SELECT name, ssn FROM clinical.patients p WHERE id = 1 ORDER BY 1');
    expect(r.text).toBe('SELECT name, ssn, CAST("p"."id" AS pg_catalog.text) AS gatehouse_subject_1 FROM clinical.patients p WHERE id = 1 ORDER BY 1');
    expect(r.plans[0]).toEqual({ hidden: ['clinical.patients'], returningAdded: false, unknown: {} });
  });

  it('handles SELECT *, joins and unqualified names', () => {
    const r = plan('SELECT * FROM patients JOIN visits v ON v.patient_id = patients.id', ['clinical.patients', 'clinical.visits']);
    expect(r.text).toContain('SELECT *, CAST("patients"."id" AS pg_catalog.text) AS gatehouse_subject_1, CAST("v"."patient_id" AS pg_catalog.text) AS gatehouse_subject_2 FROM');
    expect(r.plans[0]!.hidden).toEqual(['clinical.patients', 'clinical.visits']);
  });

  it('does not take IS DISTINCT FROM for the FROM clause', () => {
    const r = plan("SELECT name IS DISTINCT FROM 'x' AS d FROM clinical.patients");
    expect(r.text).toBe('SELECT name IS DISTINCT FROM \'x\' AS d, CAST("patients"."id" AS pg_catalog.text) AS gatehouse_subject_1 FROM clinical.patients');
  });

  it.each([
    ['SELECT count(*) FROM clinical.patients', 'aggregate'],
    ['SELECT max(id) FROM clinical.patients', 'aggregate'],
    ['SELECT public.my_agg(id) FROM clinical.patients', 'aggregate'],
    ['SELECT name FROM clinical.patients GROUP BY name', 'grouped'],
    ['SELECT DISTINCT name FROM clinical.patients', 'DISTINCT'],
    ['SELECT id FROM clinical.patients UNION SELECT 1', 'set operation'],
    ['SELECT id INTO t2 FROM clinical.patients', 'INTO'],
    ['SELECT * FROM (clinical.patients JOIN clinical.visits USING (id)) AS j', 'aliased join'],
    ['SELECT code FROM clinical.codes WHERE code IN (SELECT name FROM clinical.patients)', 'top-level FROM'],
    ['WITH x AS (SELECT id FROM clinical.patients) SELECT * FROM x', 'top-level FROM'],
    ['SELECT id AS gatehouse_subject_1 FROM clinical.patients', 'reserves'],
    ['COPY clinical.patients TO STDOUT', 'COPY'],
    ['DECLARE c CURSOR FOR SELECT * FROM clinical.patients', 'cursor'],
  ])('records %s as unknown (%s), never a list', (sql, why) => {
    const r = plan(sql);
    expect(r.text).toBeNull();
    expect(r.plans[0]!.hidden).toEqual([]);
    expect(r.plans[0]!.unknown['clinical.patients']).toContain(why);
  });

  it('keeps a window function (rows, not groups)', () => {
    expect(plan('SELECT id, row_number() OVER () FROM clinical.patients').text).toContain('gatehouse_subject_1 FROM');
  });

  it('does not take a WITH query named like a PHI table for it', () => {
    const r = plan('WITH patients AS (SELECT 99 AS id) SELECT * FROM (SELECT id FROM patients) p');
    expect(r.text).toBeNull();
  });

  it('reads the subject through the derived table masking at the source writes', () => {
    const masks: MaskRule[] = [
      { table: 'clinical.patients', column: 'ssn', strategy: 'redact', policy: 'p' },
      { table: 'clinical.patients', column: 'name', strategy: 'hash', policy: 'p' },
    ];
    const m = rewriteForMasks({ text: 'SELECT * FROM clinical.patients p', masks: [masks], searchPath: ['clinical'], relations, routines });
    if (m.kind !== 'rewritten') throw new Error('expected a rewrite');
    const r = plan(m.text, ['clinical.patients'], ['clinical.patients\u0000ssn']);
    expect(r.text).toMatch(/, CAST\("p"\."id" AS pg_catalog\.text\) AS gatehouse_subject_1 FROM\s+\(SELECT/);
  });

  it('records a masked subject column as unknown', () => {
    const masks: MaskRule[] = [{ table: 'clinical.patients', column: 'id', strategy: 'redact', policy: 'p' }];
    const m = rewriteForMasks({ text: 'SELECT name FROM clinical.patients p', masks: [masks], searchPath: ['clinical'], relations, routines });
    if (m.kind !== 'rewritten') throw new Error('expected a rewrite');
    const r = plan(m.text, ['clinical.patients'], ['clinical.patients\u0000id']);
    expect(r.text).toBeNull();
    expect(r.plans[0]!.unknown['clinical.patients']).toContain('masked');
  });

  it('takes an unaliased subquery in FROM (PostgreSQL 16 and later) for a derived table without subjects', () => {
    // Reading the alias of every derived table threw here when it had none.
    const r = plan('SELECT * FROM (SELECT 1 AS one), clinical.patients');
    expect(r.plans[0]).toEqual({ hidden: ['clinical.patients'], returningAdded: false, unknown: {} });
    expect(plan('SELECT * FROM (SELECT id FROM clinical.patients), clinical.patients').plans[0]!.unknown['clinical.patients']).toMatch(/also read elsewhere/);
  });

  it('does not trust a derived table whose subject column is computed', () => {
    const r = plan('SELECT * FROM (SELECT id + 1 AS id FROM clinical.patients) p');
    expect(r.text).toBeNull();
  });
});

describe('planSubjects: writes', () => {
  it('adds a RETURNING to a write without one', () => {
    const r = plan("UPDATE clinical.patients SET name = 'x' WHERE id = 1;");
    expect(r.text).toBe('UPDATE clinical.patients SET name = \'x\' WHERE id = 1 RETURNING CAST("patients"."id" AS pg_catalog.text) AS gatehouse_subject_1;');
    expect(r.plans[0]).toEqual({ hidden: ['clinical.patients'], returningAdded: true, unknown: {} });
  });

  it('extends a RETURNING and uses the alias, before a trailing comment', () => {
    const r = plan('DELETE FROM clinical.visits AS v WHERE id = 3 RETURNING * -- done', ['clinical.visits']);
    expect(r.text).toBe('DELETE FROM clinical.visits AS v WHERE id = 3 RETURNING *, CAST("v"."patient_id" AS pg_catalog.text) AS gatehouse_subject_1 -- done');
    expect(r.plans[0]!.returningAdded).toBe(false);
  });

  it('plans each statement of a query string', () => {
    const r = plan("SELECT 1; INSERT INTO clinical.patients (id, name, ssn) VALUES (9, 'a', 'b')", ['clinical.patients']);
    expect(r.statements![1]).toContain('RETURNING CAST("patients"."id" AS pg_catalog.text) AS gatehouse_subject_1');
  });

  it('marks PHI tables read by a write (not its target) as unknown', () => {
    const r = plan('INSERT INTO clinical.codes SELECT name FROM clinical.patients', ['clinical.patients']);
    expect(r.text).toBeNull();
    expect(r.plans[0]!.unknown['clinical.patients']).toContain('other than as the target');
  });
});

describe('planSubjects: red-team round 9b', () => {
  it('a PHI table also read elsewhere in the statement is unknown, not listed from the top level (R9b-1)', () => {
    for (const sql of [
      'SELECT p.id, (SELECT q.ssn FROM clinical.patients q WHERE q.id = 7) FROM clinical.patients p',
      'SELECT p.id, x.ssn FROM clinical.patients p, LATERAL (SELECT ssn FROM clinical.patients WHERE id = p.id + 1) x',
      'WITH c AS (SELECT id + 0 AS k, ssn FROM clinical.patients) SELECT p.id, c.ssn FROM clinical.patients p JOIN c ON c.k = p.id',
      'SELECT p.id FROM clinical.patients p WHERE p.id IN (SELECT id FROM clinical.patients WHERE ssn = $1)',
    ]) {
      const r = plan(sql);
      expect(r.text, sql).toBeNull();
      expect(r.plans[0]!.unknown['clinical.patients'], sql).toMatch(/also read elsewhere/);
    }
    // A self-join names the table twice and lists both sides.
    expect(plan('SELECT p.id FROM clinical.patients p JOIN clinical.patients q ON q.id = p.id + 1').plans[0]!.hidden).toEqual(['clinical.patients', 'clinical.patients']);
  });

  it('a write naming its PHI target again (a writable CTE) is unknown (R9b-1)', () => {
    const r = plan("WITH d AS (DELETE FROM clinical.patients WHERE id = 9 RETURNING 1) UPDATE clinical.patients SET name = 'x' WHERE id = 1");
    expect(r.text).toBeNull();
    expect(r.plans[0]!.unknown['clinical.patients']).toMatch(/also read elsewhere/);
  });

  it('ORDER BY a position past the select list leaves the statement unchanged (R9b-3)', () => {
    expect(plan('SELECT name FROM clinical.patients ORDER BY 2').text).toBeNull();
    expect(plan('SELECT name FROM clinical.patients ORDER BY 1').text).not.toBeNull();
    expect(plan('SELECT * FROM clinical.patients ORDER BY 1').text).not.toBeNull();
  });

  it('a write that sets the subject column is unknown (R9b-4)', () => {
    expect(plan('UPDATE clinical.patients SET id = id + 100 WHERE id = 10').plans[0]!.unknown['clinical.patients']).toMatch(/sets its subject column/);
    expect(plan("INSERT INTO clinical.patients (id, name) VALUES (1, 'a') ON CONFLICT (id) DO UPDATE SET id = 2").plans[0]!.unknown['clinical.patients']).toMatch(/sets its subject column/);
    expect(plan("INSERT INTO clinical.patients (id, name) VALUES (1, 'a')").plans[0]!.hidden).toEqual(['clinical.patients']);
  });
});
