import { beforeAll, describe, expect, it } from 'vitest';
import type { MaskRule, MaskStrategy } from '../policy/types.ts';
import { identity, SESSION } from '../policy/example-inputs.ts';
import { buildPolicyInput } from '../policy/input.ts';
import { analyzeQueryUncached, loadSqlParser } from '../sql/parser.ts';
import { catalogFacts } from './catalog-facts.ts';
import { existenceOracle, type ReadMasksOf } from './existence-oracles.ts';
import { throughGenerated, withGeneratedMasks } from './generated-masks.ts';
import { rewriteForMasks } from './mask-rewrite.ts';
import { RelationCatalog, type ColumnInfo, type RelationInfo } from './relation-catalog.ts';
import { RoutineCatalog } from './routine-catalog.ts';

beforeAll(async () => {
  await loadSqlParser();
});

const column = (name: string, attnum: number, generatedFrom?: string[]): ColumnInfo => ({ name, attnum, type: 'text', category: 'S', typeOid: 25, ...(generatedFrom ? { generatedFrom } : {}) });

function table(oid: number, name: string, columns: ColumnInfo[], more: Partial<RelationInfo> = {}): RelationInfo {
  return { oid, schema: 'public', name, qualified: `public.${name}`, kind: 'table', persistence: 'permanent', columns, reads: [], ancestors: [], ...more };
}

// digits GENERATED ALWAYS AS (replace(ssn, '-', '') || note) STORED UNIQUE; one GENERATED AS (1).
const PEOPLE = table(1, 'people', [column('id', 1), column('note', 2), column('ssn', 3), column('digits', 4, ['note', 'ssn']), column('one', 5, [])], {
  keys: [
    { kind: 'unique', name: 'people_pkey', columns: ['id'] },
    { kind: 'unique', name: 'people_digits_key', columns: ['digits'] },
  ],
});
// An inheritance child adding a generated column over the parent's masked column.
const CHILD = table(2, 'people_child', [...PEOPLE.columns, column('lowered', 6, ['ssn'])], { ancestors: ['public.people'] });
const CHECKED = table(3, 'checked', [column('id', 1), column('ssn', 2), column('copy', 3, ['ssn']), column('backup', 4)], {
  checks: [{ kind: 'check', name: 'checked_check', columns: ['backup', 'copy'], validated: true }],
});
const CATALOG = new RelationCatalog([PEOPLE, CHILD, CHECKED], { hash: true });

const masks = (entries: Array<[string, MaskStrategy]>): Map<string, MaskStrategy> => new Map(entries);

describe('withGeneratedMasks (R21a-2)', () => {
  it('masks a generated column with the strongest mask of its sources', () => {
    expect(withGeneratedMasks(PEOPLE, masks([['ssn', 'hash']])).get('digits')).toBe('hash');
    expect(withGeneratedMasks(PEOPLE, masks([['ssn', 'hash'], ['note', 'null']])).get('digits')).toBe('null');
  });

  it('redacts a copy of a last4 column (the last four of a derived value are another part of the source)', () => {
    expect(withGeneratedMasks(PEOPLE, masks([['ssn', 'last4']])).get('digits')).toBe('redact');
  });

  it("keeps the policy's own mask on the generated column when it is stronger", () => {
    expect(withGeneratedMasks(PEOPLE, masks([['ssn', 'hash'], ['digits', 'null']])).get('digits')).toBe('null');
    expect(withGeneratedMasks(PEOPLE, masks([['ssn', 'null'], ['digits', 'hash']])).get('digits')).toBe('null');
  });

  it('returns the masks as they are when no generated column reads a masked one', () => {
    const own = masks([['id', 'redact']]);
    expect(withGeneratedMasks(PEOPLE, own)).toBe(own);
    const none = masks([]);
    expect(withGeneratedMasks(PEOPLE, none)).toBe(none);
  });

  it('extends a test to the generated columns computed from a column it holds for', () => {
    const test = throughGenerated(PEOPLE, (c) => c === 'ssn');
    expect(['id', 'note', 'ssn', 'digits', 'one'].filter(test)).toEqual(['ssn', 'digits']);
  });
});

describe('the mask rewrite over generated columns (R21a-2)', () => {
  const routines = new RoutineCatalog(['=', '||'].map((name) => ({ kind: 'operator' as const, schema: 'pg_catalog', name, harmless: true, retset: false })));
  const RULES: MaskRule[] = [{ table: 'public.people', column: 'ssn', strategy: 'redact', policy: 'p' }];
  const rewrite = (sql: string) => rewriteForMasks({ text: sql, masks: [RULES], searchPath: ['public'], relations: CATALOG, routines });

  it('masks the generated column in the derived table, and reports the mask applied', () => {
    const r = rewrite('SELECT digits FROM public.people');
    expect(r.kind).toBe('rewritten');
    if (r.kind !== 'rewritten') return;
    expect(r.text).toContain(`CAST(CASE WHEN gatehouse_masked."digits" IS NULL THEN NULL ELSE '***' END AS text) AS "digits"`);
    expect(r.applied[0]).toEqual([{ table: 'public.people', column: 'digits', strategy: 'redact' }]);
  });

  it("masks an inheritance child's own generated column over the parent's masked column", () => {
    const r = rewrite('SELECT lowered FROM public.people_child');
    expect(r.kind === 'rewritten' ? r.text : '').toContain(`ELSE '***' END AS text) AS "lowered"`);
  });

  it('refuses a write reading the generated column of its target (RETURNING, WHERE)', () => {
    for (const sql of ["UPDATE public.people SET note = 'x' WHERE id = 1 RETURNING digits", "DELETE FROM public.people WHERE digits = '731205353'"]) {
      const r = rewrite(sql);
      expect(r.kind === 'refused' ? r.refusal.message : sql).toContain('"digits"');
    }
    expect(rewrite("UPDATE public.people SET note = 'x' WHERE id = 1 RETURNING id").kind).not.toBe('refused');
  });
});

describe('existence and CHECK oracles through generated columns (R21a-2)', () => {
  const SSN: ReadMasksOf = (t) => masks(t === 'public.people' || t === 'public.checked' ? [['ssn', 'redact']] : []);
  const oracle = (sql: string, readMasks: ReadMasksOf = SSN) => existenceOracle(sql, ['public'], CATALOG, readMasks);

  it('refuses a write assigning a source of a generated column under a unique index (INSERT, UPDATE, COPY FROM, through the parent)', () => {
    for (const sql of [
      "INSERT INTO public.people (id, ssn) VALUES (2, '731-20-5353')",
      "INSERT INTO public.people (id, note) VALUES (2, 'n')",
      "UPDATE public.people SET note = 'x' WHERE id = 1",
      'COPY public.people (id, ssn) FROM STDIN',
    ]) {
      expect(oracle(sql)?.message, sql).toContain('people_digits_key');
    }
  });

  it('refuses an update assigning the source of a generated column that a CHECK relates to a masked one it keeps', () => {
    expect(oracle("UPDATE public.checked SET backup = '731205353' WHERE id = 1")?.message).toContain('checked_check');
  });

  it('lets through writes assigning no source of the key, and identities reading the source unmasked', () => {
    expect(oracle('INSERT INTO public.people (id) VALUES (2)')).toBeNull();
    expect(oracle("INSERT INTO public.people (id, ssn) VALUES (2, '731-20-5353')", () => masks([]))).toBeNull();
  });
});

describe('the policy input: naming a generated column reads its sources (R21a-2)', () => {
  const columnsOf = (sql: string): Record<string, string[]> => {
    const analyzed = analyzeQueryUncached(sql);
    if (!analyzed.ok) throw new Error(analyzed.error);
    const facts = analyzed.statements[0]!.facts;
    const catalog = catalogFacts(facts, CATALOG, new RoutineCatalog([]));
    return buildPolicyInput({ identity: identity(['agents']), session: SESSION, text: sql, protocol: 'simple', facts, catalog }).statement.columns;
  };

  it('lists the sources of a named generated column under its table', () => {
    expect(columnsOf('SELECT digits FROM public.people')).toEqual({ 'public.people': ['digits', 'note', 'ssn'] });
    expect(columnsOf("SELECT id FROM public.people WHERE digits = '1'")['public.people']).toEqual(expect.arrayContaining(['id', 'digits', 'note', 'ssn']));
  });

  it('adds nothing when no generated column is named', () => {
    expect(columnsOf('SELECT id, note FROM public.people')).toEqual({ 'public.people': ['id', 'note'] });
  });
});
