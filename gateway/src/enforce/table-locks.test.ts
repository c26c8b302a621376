import { beforeAll, describe, expect, it } from 'vitest';
import { analyzeQueryUncached, loadSqlParser } from '../sql/parser.ts';
import { RelationCatalog, type RelationInfo, type RelationLock } from './relation-catalog.ts';
import { lockedRelationsNamed } from './table-locks.ts';

beforeAll(async () => {
  await loadSqlParser();
});

function table(oid: number, name: string, lockedBy?: RelationLock[], ancestors: string[] = []): RelationInfo {
  return { oid, schema: 'public', name, qualified: `public.${name}`, kind: 'table', persistence: 'permanent', columns: [], reads: [], ancestors, ...(lockedBy ? { lockedBy } : {}) };
}

const MIGRATION = 4242;
const CATALOG = new RelationCatalog(
  [
    table(1, 'altered', [{ pid: MIGRATION, mode: 'access_exclusive' }]),
    table(2, 'indexed', [{ pid: MIGRATION, mode: 'share' }]),
    table(3, 'free'),
    table(4, 'parent'),
    table(5, 'part_1', [{ pid: MIGRATION, mode: 'access_exclusive' }], ['public.parent']),
    table(6, 'prepared', [{ pid: null, mode: 'share_row_exclusive' }]),
    { ...table(7, 'over_indexed'), kind: 'view', reads: ['public.indexed'] },
    { ...table(8, 'over_parent'), kind: 'view', reads: ['public.over_free', 'public.parent'] },
    { ...table(9, 'over_free'), kind: 'view', reads: ['public.free'] },
  ],
  { hash: true },
);

function named(sql: string, ownPid: number | null, catalog = CATALOG): string[] {
  const outcome = analyzeQueryUncached(sql);
  if (!outcome.ok) throw new Error(outcome.error);
  return lockedRelationsNamed(outcome.statements[0]!.facts, catalog, ownPid);
}

describe('lockedRelationsNamed (R14-3)', () => {
  it('names a table another backend holds ACCESS EXCLUSIVE, read or written, wherever the statement names it', () => {
    expect(named('SELECT DISTINCT v FROM altered', 1)).toEqual(['public.altered']);
    expect(named('SELECT 1 WHERE EXISTS (SELECT 1 FROM public.altered)', 1)).toEqual(['public.altered']);
    expect(named('WITH c AS (SELECT * FROM altered) SELECT * FROM free, c', null)).toEqual(['public.altered']);
    expect(named('UPDATE altered SET v = 1', 1)).toEqual(['public.altered']);
  });

  it("never names a lock the session's own upstream backend holds: a migration's next statement goes on", () => {
    expect(named('UPDATE altered SET v = 1', MIGRATION)).toEqual([]);
    expect(named('INSERT INTO indexed VALUES (1)', MIGRATION)).toEqual([]);
    expect(named('SELECT * FROM part_1', MIGRATION)).toEqual([]);
  });

  it('a SHARE lock (CREATE INDEX) blocks writes only; a prepared transaction (no pid) is always another', () => {
    expect(named('SELECT * FROM indexed', 1)).toEqual([]);
    expect(named('INSERT INTO indexed VALUES (1)', 1)).toEqual(['public.indexed']);
    expect(named('DELETE FROM indexed', null)).toEqual(['public.indexed']);
    expect(named('SELECT * FROM prepared', 1)).toEqual([]);
    expect(named('UPDATE prepared SET v = 2', 1)).toEqual(['public.prepared']);
  });

  it('a write through a view is refused while a relation under it is locked in a mode the write waits for (R15-2); a read through it is not', () => {
    expect(named("INSERT INTO over_indexed VALUES (1, 'y')", 1)).toEqual(['public.over_indexed']);
    expect(named('UPDATE over_indexed SET v = 2', 1)).toEqual(['public.over_indexed']);
    expect(named('UPDATE over_parent SET v = 2', 1)).toEqual(['public.over_parent']);
    expect(named("INSERT INTO over_indexed VALUES (1, 'y')", MIGRATION)).toEqual([]);
    expect(named('SELECT * FROM over_indexed', 1)).toEqual([]);
    expect(named('UPDATE over_free SET v = 2', 1)).toEqual([]);
  });

  it('a read of a parent is refused while one of its partitions is locked', () => {
    expect(named('SELECT * FROM parent', 1)).toEqual(['public.parent']);
  });

  it('is empty for statements that name no locked table, and when nothing is locked', () => {
    expect(named('SELECT * FROM free', 1)).toEqual([]);
    expect(named('SELECT 1', 1)).toEqual([]);
    const free = new RelationCatalog([table(1, 'altered'), table(3, 'free')], { hash: true });
    expect(free.anyLocked).toBe(false);
    expect(named('SELECT * FROM altered', 1, free)).toEqual([]);
  });
});
