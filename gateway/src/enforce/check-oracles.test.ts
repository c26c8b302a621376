import { beforeAll, describe, expect, it } from 'vitest';
import type { MaskStrategy } from '../policy/types.ts';
import { loadSqlParser } from '../sql/parser.ts';
import { existenceOracle, type ReadMasksOf } from './existence-oracles.ts';
import { RelationCatalog, type RelationInfo } from './relation-catalog.ts';

beforeAll(async () => {
  await loadSqlParser();
});

function table(oid: number, name: string, columns: string[], more: Partial<RelationInfo> = {}): RelationInfo {
  const qualified = `public.${name}`;
  return { oid, schema: 'public', name, qualified, kind: 'table', persistence: 'permanent', columns: columns.map((c, i) => ({ name: c, attnum: i + 1, type: 'text', category: 'S', typeOid: 25 })), reads: [], ancestors: [], ...more };
}

const CATALOG = new RelationCatalog(
  [
    table(1, 'people', ['id', 'born', 'died', 'note'], {
      keys: [{ kind: 'unique', name: 'people_pkey', columns: ['id'] }],
      checks: [
        { kind: 'check', name: 'people_check', columns: ['born', 'died'], validated: true },
        { kind: 'check', name: 'people_note_check', columns: ['note'], validated: true },
      ],
    }),
    table(2, 'legacy', ['id', 'born', 'note'], { checks: [{ kind: 'check', name: 'legacy_born_check', columns: ['born'], validated: false }] }),
    table(3, 'parted', ['id', 'born', 'died'], { kind: 'partitioned_table' }),
    table(4, 'parted_1', ['id', 'born', 'died'], { ancestors: ['public.parted'], checks: [{ kind: 'policy', name: 'parted_1_rls', columns: ['born', 'died'], validated: true }] }),
    table(5, 'notes', ['id', 'v'], { checks: [{ kind: 'policy', name: 'notes_rls', columns: ['v'], validated: true, reads: ['public.people'] }] }),
    table(6, 'memos', ['id', 'v'], { checks: [{ kind: 'policy', name: 'memos_rls', columns: ['v'], validated: true, reads: ['oid 999'] }] }),
    table(7, 'tags', ['id', 'v'], { checks: [{ kind: 'policy', name: 'tags_rls', columns: ['v'], validated: true, calls: ['public.stored(text)'] }] }),
  ],
  { hash: true },
);

const BORN_MASKED: ReadMasksOf = (t) => new Map<string, MaskStrategy>(['public.people', 'public.legacy', 'public.parted'].includes(t) ? [['born', 'redact']] : []);
const check = (sql: string, masks: ReadMasksOf = BORN_MASKED) => existenceOracle(sql, ['public'], CATALOG, masks);

describe('CHECK constraints as oracles (R21a-1)', () => {
  it('refuses an update assigning a column a CHECK relates to a masked column it keeps, however the update is written', () => {
    for (const sql of [
      "UPDATE public.people SET died = '1961-07-13' WHERE id = 1",
      "MERGE INTO public.people p USING (VALUES (1)) v(id) ON p.id = v.id WHEN MATCHED THEN UPDATE SET died = '1961-07-13'",
      "INSERT INTO public.people (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET died = '1961-07-13'",
      "UPDATE public.parted SET died = '1961-07-13' WHERE id = 1",
    ]) {
      const r = check(sql);
      expect(r, sql).not.toBeNull();
      expect(r!.message, sql).toContain('"born"');
      expect(r!.message, sql).toMatch(/check constraint|row-level security policy/);
    }
  });

  it('names a row-level security policy as such', () => {
    expect(check("UPDATE public.parted SET died = '1961-07-13' WHERE id = 1")?.message).toContain('row-level security policy parted_1_rls');
  });

  it('refuses any update of a table with a NOT VALID check over a masked column', () => {
    expect(check("UPDATE public.legacy SET note = 'n' WHERE id = 1")?.message).toContain('not validated');
  });

  it('lets through inserts, updates that assign the masked column too or none of the check, and identities that read it unmasked', () => {
    for (const sql of [
      "INSERT INTO public.people (id, born, died) VALUES (9, '1960-01-01', '1961-07-13')",
      "UPDATE public.people SET died = '1961-07-13', born = '1960-01-01' WHERE id = 1",
      "UPDATE public.people SET note = 'n' WHERE id = 1",
      "UPDATE ONLY public.parted SET died = '1961-07-13' WHERE id = 1",
    ]) {
      expect(check(sql), sql).toBeNull();
    }
    expect(check("UPDATE public.people SET died = '1961-07-13' WHERE id = 1", () => new Map())).toBeNull();
  });
});

describe('row-level security policies reading other tables (R21d-5)', () => {
  it('refuses any write to a table whose policy reads a table with masked columns, or one the snapshot does not know', () => {
    for (const sql of [
      "INSERT INTO public.notes VALUES (1, '731-20-5353')",
      "UPDATE public.notes SET v = 'x' WHERE id = 1",
      'DELETE FROM public.notes WHERE id = 1',
      "MERGE INTO public.notes n USING (VALUES (1)) s(id) ON n.id = s.id WHEN NOT MATCHED THEN INSERT VALUES (1, 'x')",
      "INSERT INTO public.memos VALUES (1, 'x')",
    ]) {
      const r = check(sql);
      expect(r, sql).not.toBeNull();
      expect(r!.message, sql).toMatch(/row-level security policy (notes|memos)_rls, whose expressions read (public\.people|oid 999)/);
    }
  });

  it('refuses a write to a table whose policy calls a user function: what it reads is unknown (R21f-5)', () => {
    const r = check("INSERT INTO public.tags VALUES (1, '731-20-5353')");
    expect(r?.message).toContain('tags_rls, whose expressions read the tables function public.stored(text) reads');
  });

  it('lets the write through when the identity reads the other table unmasked', () => {
    expect(check("INSERT INTO public.notes VALUES (1, '731-20-5353')", () => new Map())).toBeNull();
  });
});
