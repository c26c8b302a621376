import { beforeAll, describe, expect, it } from 'vitest';
import { loadModule, parseSync } from 'libpg-query';
import type { MaskRule } from '../policy/types.ts';
import { rewriteForMasks, type RewriteResult } from './mask-rewrite.ts';
import { RelationCatalog, type ColumnInfo, type RelationInfo } from './relation-catalog.ts';
import { RoutineCatalog } from './routine-catalog.ts';

// Red-team round 21a, R21a-3: a reference to a parent reads its partitions' and children's rows, each
// masked as its own table's are; ONLY reads none of them.

const text = (name: string, attnum: number): ColumnInfo => ({ name, attnum, type: 'text', category: 'S', typeOid: 25 });
const int = (name: string, attnum: number): ColumnInfo => ({ name, attnum, type: 'integer', category: 'N', typeOid: 23 });

function rel(oid: number, qualified: string, columns: ColumnInfo[], extra: Partial<RelationInfo> = {}): RelationInfo {
  const [schema, name] = qualified.split('.') as [string, string];
  return { oid, schema, name, qualified, kind: 'table', persistence: 'permanent', columns, reads: [], ancestors: [], ...extra };
}

// people (id, ssn, age) is inherited by patients (more columns, other attnums) and staff; events is
// partitioned, its partition events_a masked.
const catalog = new RelationCatalog(
  [
    rel(100, 'public.people', [int('id', 1), text('ssn', 2), int('age', 3)]),
    rel(101, 'clinical.patients', [int('id', 1), text('name', 2), text('ssn', 3), int('age', 4), text('phone', 5)], { ancestors: ['public.people'] }),
    rel(102, 'public.staff', [int('id', 1), text('ssn', 2), int('age', 3)], { ancestors: ['public.people'] }),
    rel(103, 'clinical.patients_kids', [int('id', 1), text('name', 2), text('ssn', 3), int('age', 4), text('phone', 5)], { ancestors: ['clinical.patients', 'public.people'] }),
    rel(200, 'public.events', [int('id', 1), text('ssn', 2)], { kind: 'partitioned_table', partitionKey: ['id'] }),
    rel(201, 'public.events_a', [int('id', 1), text('ssn', 2)], { ancestors: ['public.events'] }),
    rel(202, 'public.events_b', [int('id', 1), text('ssn', 2)], { ancestors: ['public.events'] }),
    rel(300, 'public.people_view', [int('id', 1), text('ssn', 2)], { kind: 'view', reads: ['public.people'] }),
  ],
  { hash: true },
);

const routines = new RoutineCatalog([...['=', '<'].map((name) => ({ kind: 'operator' as const, schema: 'pg_catalog', name, harmless: true, retset: false }))]);

const MASKS: MaskRule[] = [
  { table: 'clinical.patients', column: 'ssn', strategy: 'redact', policy: 'p' },
  { table: 'clinical.patients', column: 'age', strategy: 'hash', policy: 'p' },
  { table: 'clinical.patients', column: 'phone', strategy: 'null', policy: 'p' },
  { table: 'public.events_a', column: 'ssn', strategy: 'last4', policy: 'p' },
];

function rewrite(sql: string, masks: MaskRule[] = MASKS): RewriteResult {
  const statements = (parseSync(sql) as { stmts?: unknown[] }).stmts?.length ?? 1;
  return rewriteForMasks({ text: sql, masks: Array.from({ length: statements }, () => masks), searchPath: ['public'], relations: catalog, routines });
}

function rewritten(sql: string, masks?: MaskRule[]): string {
  const r = rewrite(sql, masks);
  if (r.kind !== 'rewritten') throw new Error(`expected a rewrite of ${sql}, got ${JSON.stringify(r)}`);
  return r.text.replace(/\s+/g, ' ').trim();
}

const PATIENT_ROWS = `gatehouse_masked.tableoid OPERATOR(pg_catalog.=) ANY (CAST('{101,103}' AS pg_catalog.oid[]))`;

beforeAll(async () => {
  await loadModule();
});

describe('rewriteForMasks through a parent (R21a-3)', () => {
  it("masks a child's rows read through its inheritance parent, by the child's rules and domain, the parent's own and other children's rows as they are", () => {
    const out = rewritten('SELECT ssn, age FROM public.people');
    expect(out).toContain(`CASE WHEN ${PATIENT_ROWS} THEN CAST(CASE WHEN gatehouse_masked."ssn" IS NULL THEN NULL ELSE '***' END AS text) ELSE gatehouse_masked."ssn" END AS "ssn"`);
    // The hash gives text: every branch is text then. Keyed in the domain of the rule's table.
    expect(out).toContain(
      `CASE WHEN ${PATIENT_ROWS} THEN CAST(gatehouse.gatehouse_mask_hash('clinical.patients.age', CAST(gatehouse_masked."age" AS pg_catalog.text)) AS pg_catalog.text) ELSE CAST(gatehouse_masked."age" AS pg_catalog.text) END AS "age"`,
    );
    expect(out).toContain('gatehouse_masked."id", ');
    expect(out).toContain('FROM "public"."people" AS gatehouse_masked) AS "people"');
    expect(out).not.toContain('phone'); // a column the parent does not have
    const r = rewrite('SELECT ssn FROM public.people');
    expect(r.kind === 'rewritten' && r.applied[0]).toEqual([{ table: 'clinical.patients', column: 'ssn', strategy: 'redact' }]);
  });

  it('reads nothing of the children under ONLY: no rewrite', () => {
    expect(rewrite('SELECT ssn FROM ONLY public.people').kind).toBe('unchanged');
  });

  it('masks a partition read through its partitioned parent; the parent keeps masking what it masks itself', () => {
    expect(rewritten('SELECT ssn FROM public.events')).toContain(`CASE WHEN gatehouse_masked.tableoid OPERATOR(pg_catalog.=) ANY (CAST('{201}' AS pg_catalog.oid[])) THEN CAST(`);
    // The parent masked more strongly: every row gets the parent's mask, the partition's too.
    const both = [...MASKS, { table: 'public.events', column: 'ssn', strategy: 'null', policy: 'p' } as MaskRule];
    expect(rewritten('SELECT ssn FROM public.events', both)).toContain('SELECT gatehouse_masked."id", CAST(NULL AS text) AS "ssn" FROM "public"."events"');
  });

  it("copies the parent's own rows with COPY t TO (no child rows: nothing to mask), a partitioned parent's partitions masked", () => {
    expect(rewrite('COPY public.people TO STDOUT').kind).toBe('unchanged');
    expect(rewritten('COPY public.events TO STDOUT')).toContain(`ANY (CAST('{201}' AS pg_catalog.oid[]))`);
  });

  it('refuses a write through the parent that reads a masked column of a child, not one with ONLY or that reads none', () => {
    for (const sql of ['UPDATE public.people SET id = id RETURNING ssn', 'DELETE FROM public.events WHERE ssn = $1', 'INSERT INTO public.events VALUES (1, $1) RETURNING *']) {
      const r = rewrite(sql);
      expect(r.kind === 'refused' && r.refusal.code).toBe('MASKED_COLUMN_READ');
    }
    expect(rewrite('UPDATE ONLY public.people SET id = id RETURNING ssn').kind).toBe('unchanged');
    expect(rewrite('UPDATE public.people SET id = id RETURNING id').kind).toBe('unchanged');
    // An INSERT into an inheritance parent stores its rows there, none in a child.
    expect(rewrite('INSERT INTO public.people VALUES (1, $1) RETURNING ssn').kind).toBe('unchanged');
  });

  it('refuses a view over the parent, and other uses of the parent (a lock reaches the children)', () => {
    const view = rewrite('SELECT ssn FROM public.people_view');
    expect(view.kind === 'refused' && view.refusal.message).toMatch(/reads masked table clinical\.patients/);
    expect(rewrite('LOCK TABLE public.people').kind).toBe('refused');
    expect(rewrite('LOCK TABLE ONLY public.people').kind).toBe('unchanged');
  });

  it('masks a grandchild as its masked ancestors do, and by its own stronger rule in its own domain', () => {
    const own = [...MASKS, { table: 'clinical.patients_kids', column: 'ssn', strategy: 'null', policy: 'p' } as MaskRule];
    const out = rewritten('SELECT ssn FROM public.people', own);
    expect(out).toContain(`WHEN gatehouse_masked.tableoid OPERATOR(pg_catalog.=) ANY (CAST('{101}' AS pg_catalog.oid[])) THEN CAST(CASE`);
    expect(out).toContain(`WHEN gatehouse_masked.tableoid OPERATOR(pg_catalog.=) ANY (CAST('{103}' AS pg_catalog.oid[])) THEN CAST(NULL AS text)`);
    // The child read directly: its own rows and its child's, each by its rules.
    expect(rewritten('SELECT ssn FROM clinical.patients', own)).toContain(`ANY (CAST('{103}' AS pg_catalog.oid[])) THEN CAST(NULL AS text) ELSE CAST(CASE WHEN`);
  });
});
