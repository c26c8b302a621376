import { beforeAll, describe, expect, it } from 'vitest';
import { analyzeQueryUncached, loadSqlParser } from '../sql/parser.ts';
import { RelationCatalog, type RelationInfo } from './relation-catalog.ts';
import { lockPrefixFor, MAX_DESCENDANTS_LOCKED, quotedRelation, relationsPastLocks } from './lock-prefix.ts';

beforeAll(async () => {
  await loadSqlParser();
});

function rel(oid: number, name: string, more: Partial<RelationInfo> = {}): RelationInfo {
  return { oid, schema: 'public', name, qualified: `public.${name}`, kind: 'table', persistence: 'permanent', columns: [], reads: [], ancestors: [], lockable: 'write', ...more };
}

const CATALOG = new RelationCatalog(
  [
    rel(1, 'a'),
    rel(2, 'b'),
    rel(3, 'read_only', { lockable: 'read' }),
    rel(4, 'column_grant_only', { lockable: undefined }),
    rel(5, 'mv', { kind: 'materialized_view', lockable: undefined }),
    rel(6, 'ft', { kind: 'foreign_table', lockable: undefined }),
    rel(7, 'v', { kind: 'view', reads: ['public.a'] }),
    rel(8, 'tmp', { persistence: 'temporary' }),
    { ...rel(9, 'Odd "name"'), schema: 'Sch ema', qualified: 'Sch ema.Odd "name"' },
  ],
  { hash: true },
);

function prefix(sql: string, catalog: RelationCatalog | null = CATALOG): string | null {
  const outcome = analyzeQueryUncached(sql);
  if (!outcome.ok) throw new Error(outcome.error);
  return lockPrefixFor(outcome.statements, catalog)?.text ?? null;
}

function past(sql: string, catalog: RelationCatalog | null = CATALOG): string[] {
  const outcome = analyzeQueryUncached(sql);
  if (!outcome.ok) throw new Error(outcome.error);
  return relationsPastLocks(outcome.statements, catalog);
}

describe('lockPrefixFor (R15-1)', () => {
  it('locks what the string reads ACCESS SHARE and what it writes ROW EXCLUSIVE, quoted and schema-qualified, once each', () => {
    expect(prefix('SELECT * FROM a')).toBe('LOCK TABLE "public"."a" IN ACCESS SHARE MODE NOWAIT; ');
    expect(prefix("UPDATE b SET v = 1 WHERE id = 5; SELECT DISTINCT v FROM a; SELECT 1 FROM a")).toBe(
      'LOCK TABLE "public"."a" IN ACCESS SHARE MODE NOWAIT; LOCK TABLE "public"."b" IN ROW EXCLUSIVE MODE NOWAIT; ',
    );
    // Read and written: the stronger mode only.
    expect(prefix('SELECT * FROM a; DELETE FROM a')).toBe('LOCK TABLE "public"."a" IN ROW EXCLUSIVE MODE NOWAIT; ');
    expect(prefix('SELECT * FROM "Sch ema"."Odd ""name"""')).toBe('LOCK TABLE "Sch ema"."Odd ""name""" IN ACCESS SHARE MODE NOWAIT; ');
    expect(quotedRelation('s"x', 't')).toBe('"s""x"."t"');
  });

  it('locks a parent with many partitions alone (ONLY), one with few with its partitions (R16-4)', () => {
    const parted = (name: string, n: number): RelationInfo[] => [
      rel(100 + n, name),
      ...Array.from({ length: n }, (_, i) => rel(1000 * n + i, `${name}_${i}`, { ancestors: [`public.${name}`] })),
    ];
    const catalog = new RelationCatalog([...parted('few', MAX_DESCENDANTS_LOCKED), ...parted('many', MAX_DESCENDANTS_LOCKED + 1)], { hash: true });
    expect(catalog.descendants('public.many')).toHaveLength(MAX_DESCENDANTS_LOCKED + 1);
    expect(prefix('SELECT * FROM few WHERE k = 1', catalog)).toBe('LOCK TABLE "public"."few" IN ACCESS SHARE MODE NOWAIT; ');
    expect(prefix('SELECT * FROM many WHERE k = 1; DELETE FROM few', catalog)).toBe(
      'LOCK TABLE ONLY "public"."many" IN ACCESS SHARE MODE NOWAIT; LOCK TABLE "public"."few" IN ROW EXCLUSIVE MODE NOWAIT; ',
    );
  });

  it('counts its statements and characters (for the relay), and names what it locks', () => {
    const outcome = analyzeQueryUncached('INSERT INTO b SELECT * FROM a');
    if (!outcome.ok) throw new Error(outcome.error);
    const p = lockPrefixFor(outcome.statements, CATALOG)!;
    expect(p.statements).toBe(2);
    expect(p.chars).toBe(p.text.length);
    expect(p.relations).toEqual(['public.a', 'public.b']);
  });

  it('locks a view itself (PostgreSQL locks what it reads in the same mode, as its owner)', () => {
    expect(prefix('SELECT * FROM v')).toBe('LOCK TABLE "public"."v" IN ACCESS SHARE MODE NOWAIT; ');
    expect(prefix('INSERT INTO v VALUES (1)')).toBe('LOCK TABLE "public"."v" IN ROW EXCLUSIVE MODE NOWAIT; ');
  });

  it('leaves out what cannot or may not be locked: temporary, unknown, materialized views, foreign tables, no table-level privilege', () => {
    expect(prefix('SELECT * FROM tmp')).toBeNull();
    expect(prefix('SELECT * FROM nowhere')).toBeNull();
    expect(prefix('SELECT * FROM mv, ft')).toBeNull();
    expect(prefix('SELECT id FROM column_grant_only')).toBeNull();
    expect(prefix('SELECT * FROM a, tmp, mv')).toBe('LOCK TABLE "public"."a" IN ACCESS SHARE MODE NOWAIT; ');
    // Written but only readable by the role: ACCESS SHARE (the write fails on its privileges anyway).
    expect(prefix('UPDATE read_only SET v = 1')).toBe('LOCK TABLE "public"."read_only" IN ACCESS SHARE MODE NOWAIT; ');
    expect(prefix('SELECT 1')).toBeNull();
    expect(prefix('SELECT * FROM a', null)).toBeNull();
  });

  it('does not wrap statements that cannot run in a transaction block or must run alone, nor DDL', () => {
    expect(prefix('VACUUM a')).toBeNull();
    expect(prefix('CREATE INDEX CONCURRENTLY i ON a (id)')).toBeNull();
    expect(prefix('REINDEX TABLE CONCURRENTLY a')).toBeNull();
    expect(prefix('LOCK TABLE a')).toBeNull();
    expect(prefix('DECLARE c CURSOR FOR SELECT * FROM a')).toBeNull();
    expect(prefix('ALTER TABLE a ADD COLUMN w int')).toBeNull();
  });

  it('wraps a string of several statements whatever they are: it runs in an implicit block anyway (R16b-1)', () => {
    // ALTER SYSTEM fails in a multi-statement string with or without the prefix.
    expect(prefix('SELECT * FROM a; ALTER SYSTEM SET work_mem = 1')).toBe('LOCK TABLE "public"."a" IN ACCESS SHARE MODE NOWAIT; ');
    expect(prefix('UPDATE a SET id = 1; SELECT * FROM b; DEALLOCATE ALL')).toBe('LOCK TABLE "public"."b" IN ACCESS SHARE MODE NOWAIT; LOCK TABLE "public"."a" IN ROW EXCLUSIVE MODE NOWAIT; ');
    expect(past('SELECT 1; COMMIT; SELECT * FROM a; LISTEN x')).toEqual(['public.a']);
    expect(prefix('SELECT * INTO b2 FROM a')).toBeNull();
  });

  it('transaction control: BEGIN first is wrapped; COMMIT, ROLLBACK or ROLLBACK TO first is not; after a COMMIT or ROLLBACK nothing is locked', () => {
    expect(prefix('BEGIN; SELECT * FROM a; COMMIT')).toBe('LOCK TABLE "public"."a" IN ACCESS SHARE MODE NOWAIT; ');
    expect(prefix('START TRANSACTION ISOLATION LEVEL SERIALIZABLE; UPDATE b SET v = 1')).toBe('LOCK TABLE "public"."b" IN ROW EXCLUSIVE MODE NOWAIT; ');
    expect(prefix('COMMIT; SELECT * FROM a')).toBeNull();
    expect(prefix('ROLLBACK; SELECT * FROM a')).toBeNull();
    expect(prefix('ROLLBACK TO SAVEPOINT s; SELECT * FROM a')).toBeNull();
    expect(prefix('SELECT * FROM a; COMMIT; SELECT * FROM b')).toBe('LOCK TABLE "public"."a" IN ACCESS SHARE MODE NOWAIT; ');
    expect(prefix('SELECT * FROM a; ROLLBACK; UPDATE b SET v = 1')).toBe('LOCK TABLE "public"."a" IN ACCESS SHARE MODE NOWAIT; ');
    expect(prefix('COMMIT PREPARED $$x$$')).toBeNull();
    // Savepoints keep the locks: ROLLBACK TO undoes only those taken after its savepoint.
    expect(prefix('SELECT * FROM a; SAVEPOINT s; UPDATE b SET v = 1; ROLLBACK TO SAVEPOINT s; SELECT * FROM b')).toBe(
      'LOCK TABLE "public"."a" IN ACCESS SHARE MODE NOWAIT; LOCK TABLE "public"."b" IN ROW EXCLUSIVE MODE NOWAIT; ',
    );
    expect(prefix("SET LOCAL lock_timeout = '1s'; SHOW work_mem; SELECT * FROM a")).toBe('LOCK TABLE "public"."a" IN ACCESS SHARE MODE NOWAIT; ');
  });
});

describe('relationsPastLocks (red-team round 16: what a string uses after its locks end is refused)', () => {
  it('statements after a COMMIT, ROLLBACK or PREPARE TRANSACTION, or after transaction control other than BEGIN first: their lockable relations', () => {
    expect(past('ROLLBACK; SELECT * FROM a')).toEqual(['public.a']);
    expect(past('COMMIT; UPDATE b SET v = 1; SELECT * FROM a')).toEqual(['public.a', 'public.b']);
    expect(past('SELECT * FROM a; COMMIT; SELECT * FROM b')).toEqual(['public.b']);
    expect(past('SELECT 1; COMMIT AND CHAIN; SELECT * FROM a')).toEqual(['public.a']);
    expect(past("BEGIN; SELECT * FROM a; PREPARE TRANSACTION 'g'; SELECT * FROM b")).toEqual(['public.b']);
    expect(past('SAVEPOINT s; SELECT * FROM a')).toEqual(['public.a']);
    expect(past('END; SELECT * FROM v')).toEqual(['public.v']);
    // What the prefix would not lock anyway is not counted (the documented gaps).
    expect(past('COMMIT; SELECT * FROM column_grant_only, mv, ft, tmp')).toEqual([]);
  });

  it('ROLLBACK TO keeps the locks only back to a savepoint set in the same string after them', () => {
    expect(past('SELECT 1; ROLLBACK TO SAVEPOINT s; SELECT * FROM a')).toEqual(['public.a']); // s set before the string
    expect(past('SELECT * FROM a; SAVEPOINT s; UPDATE b SET v = 1; ROLLBACK TO SAVEPOINT s; SELECT * FROM b')).toEqual([]);
    expect(past('SAVEPOINT x; ROLLBACK TO x; SELECT * FROM a')).toEqual(['public.a']); // first statement: nothing locked
    expect(past('SELECT 1; SAVEPOINT "S"; ROLLBACK TO s; SELECT * FROM a')).toEqual(['public.a']); // "S" is not s
    expect(past('SELECT 1; SAVEPOINT S; ROLLBACK WORK TO SAVEPOINT s; SELECT * FROM a')).toEqual([]);
    expect(past('SELECT 1; SAVEPOINT s; RELEASE SAVEPOINT s; ROLLBACK TO s; SELECT * FROM a')).toEqual(['public.a']); // released: an older s
    expect(past('SELECT 1; SAVEPOINT s; SAVEPOINT t; RELEASE s; ROLLBACK TO t; SELECT * FROM a')).toEqual(['public.a']);
    expect(past('SELECT 1; SAVEPOINT s; ROLLBACK TO /* c */ s; SELECT * FROM a')).toEqual(['public.a']); // not read: ends
    expect(prefix('SELECT * FROM b; ROLLBACK TO SAVEPOINT s; SELECT * FROM a')).toBe('LOCK TABLE "public"."b" IN ACCESS SHARE MODE NOWAIT; ');
  });

  it('nothing for strings that end no lock, strings not wrapped, or no catalog', () => {
    expect(past('BEGIN; SELECT * FROM a; COMMIT')).toEqual([]);
    expect(past('SELECT * FROM a; ROLLBACK')).toEqual([]);
    expect(past('COMMIT; SELECT 1')).toEqual([]);
    expect(past('ALTER TABLE a ADD COLUMN w int')).toEqual([]);
    expect(past('ROLLBACK; SELECT * FROM a', null)).toEqual([]);
  });
});
