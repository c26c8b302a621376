import { beforeAll, describe, expect, it } from 'vitest';
import { analyzeQueryUncached, loadSqlParser } from '../sql/parser.ts';
import { RelationCatalog, type RelationInfo } from './relation-catalog.ts';
import { lockedViewsNamed } from './view-locks.ts';

beforeAll(async () => {
  await loadSqlParser();
});

function rel(oid: number, name: string, more: Partial<RelationInfo> = {}): RelationInfo {
  return { oid, schema: 'public', name, qualified: `public.${name}`, kind: 'view', persistence: 'permanent', columns: [], reads: [], ancestors: [], ...more };
}

const CATALOG = new RelationCatalog([rel(1, 'plain', { kind: 'table' }), rel(2, 'locked_v', { definitionLocked: true }), rel(3, 'free_v')], { hash: true });

function named(sql: string): string[] {
  const outcome = analyzeQueryUncached(sql);
  if (!outcome.ok) throw new Error(outcome.error);
  return lockedViewsNamed(outcome.statements[0]!.facts, CATALOG);
}

describe('lockedViewsNamed (R12-9)', () => {
  it('names the locked views a statement reads or writes, wherever it names them', () => {
    expect(named('SELECT * FROM locked_v')).toEqual(['public.locked_v']);
    expect(named('SELECT 1 WHERE EXISTS (SELECT 1 FROM public.locked_v)')).toEqual(['public.locked_v']);
    expect(named('WITH c AS (SELECT * FROM locked_v) SELECT * FROM plain, c')).toEqual(['public.locked_v']);
    expect(named('UPDATE locked_v SET id = 1 WHERE id = 2')).toEqual(['public.locked_v']);
  });

  it('is empty for statements that name no locked view', () => {
    expect(named('SELECT * FROM plain JOIN free_v USING (id)')).toEqual([]);
    expect(named('SELECT 1')).toEqual([]);
  });
});
