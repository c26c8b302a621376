import { beforeAll, describe, expect, it } from 'vitest';
import { analyzeQueryUncached, loadSqlParser } from '../sql/parser.ts';
import { catalogFacts } from './catalog-facts.ts';
import { RelationCatalog, type RelationInfo } from './relation-catalog.ts';
import { RoutineCatalog } from './routine-catalog.ts';

beforeAll(async () => {
  await loadSqlParser();
});

function rel(oid: number, name: string, more: Partial<RelationInfo> = {}): RelationInfo {
  return { oid, schema: 'public', name, qualified: `public.${name}`, kind: 'view', persistence: 'permanent', columns: [], reads: [], ancestors: [], ...more };
}

function facts(sql: string) {
  const outcome = analyzeQueryUncached(sql);
  if (!outcome.ok) throw new Error(outcome.error);
  return outcome.statements[0]!.facts;
}

describe('catalogFacts', () => {
  it('answers a shape once per catalog snapshot, and anew from a new snapshot', () => {
    const f = facts('SELECT * FROM v WHERE f(x) = 1');
    const routines = new RoutineCatalog([{ kind: 'function', schema: 'public', name: 'f', harmless: true, retset: false }]);
    const before = new RelationCatalog([rel(1, 'v', { reads: ['public.t'] }), rel(2, 't', { kind: 'table' })], { hash: true });
    const a = catalogFacts(f, before, routines);
    expect(a.tablesReadThrough).toEqual(['public.t']);
    expect(a.userFunctions).toEqual([]);
    expect(catalogFacts(f, before, routines)).toBe(a);
    expect(Object.isFrozen(a) && Object.isFrozen(a.tablesReadThrough)).toBe(true);

    // The view was replaced (a new snapshot): it reads another table now.
    const after = new RelationCatalog([rel(1, 'v', { reads: ['public.secrets'] }), rel(3, 'secrets', { kind: 'table' })], { hash: true });
    expect(catalogFacts(f, after, routines).tablesReadThrough).toEqual(['public.secrets']);
    // The function was replaced by one that can read tables (a new routine snapshot).
    const harmful = new RoutineCatalog([{ kind: 'function', schema: 'public', name: 'f', harmless: false, retset: false }]);
    expect(catalogFacts(f, after, harmful).userFunctions).toEqual(['f']);
    expect(catalogFacts(f, after, routines).userFunctions).toEqual([]);
  });
});

describe('catalogFacts through inheritance (R21a-3)', () => {
  it("lists the partitions and children of a table read or written, and of a view's tables, as read: their rows are", () => {
    const relations = new RelationCatalog(
      [
        rel(1, 'people', { kind: 'table' }),
        rel(2, 'patients', { kind: 'table', ancestors: ['public.people'] }),
        rel(3, 'kids', { kind: 'table', ancestors: ['public.patients', 'public.people'] }),
        rel(4, 'v', { reads: ['public.people'] }),
        rel(5, 'vp', { reads: ['public.kids'] }),
      ],
      { hash: true },
    );
    const routines = new RoutineCatalog([]);
    expect([...catalogFacts(facts('SELECT * FROM people'), relations, routines).tablesReadThrough].sort()).toEqual(['public.kids', 'public.patients']);
    expect([...catalogFacts(facts('UPDATE people SET id = 1'), relations, routines).tablesReadThrough].sort()).toEqual(['public.kids', 'public.patients']);
    expect([...catalogFacts(facts('SELECT * FROM patients'), relations, routines).tablesReadThrough].sort()).toEqual(['public.kids', 'public.people']);
    expect([...catalogFacts(facts('SELECT * FROM v'), relations, routines).tablesReadThrough].sort()).toEqual(['public.kids', 'public.patients', 'public.people']);
    expect([...catalogFacts(facts('SELECT * FROM vp'), relations, routines).tablesReadThrough].sort()).toEqual(['public.kids', 'public.patients', 'public.people']);
  });

  it('lists the other parents of a child read through one of them (multiple inheritance, R21e-1): the child\'s rows are theirs too', () => {
    const relations = new RelationCatalog(
      [rel(1, 'plain', { kind: 'table' }), rel(2, 'masked', { kind: 'table' }), rel(3, 'both', { kind: 'table', ancestors: ['public.plain', 'public.masked'] }), rel(4, 'v', { reads: ['public.plain'] })],
      { hash: true },
    );
    const routines = new RoutineCatalog([]);
    expect([...catalogFacts(facts('SELECT * FROM plain'), relations, routines).tablesReadThrough].sort()).toEqual(['public.both', 'public.masked']);
    expect([...catalogFacts(facts('SELECT * FROM v'), relations, routines).tablesReadThrough].sort()).toEqual(['public.both', 'public.masked', 'public.plain']);
  });
});

describe('catalogFacts through row-level security policies (R21d-5)', () => {
  it('lists the tables a policy of a table read or written (or of a table a view reads) reads in subqueries', () => {
    const policy = { kind: 'policy' as const, name: 'notes_rls', columns: ['v'], validated: true, reads: ['public.vault'] };
    const relations = new RelationCatalog(
      [rel(1, 'notes', { kind: 'table', checks: [policy] }), rel(2, 'vault', { kind: 'table' }), rel(3, 'v', { reads: ['public.notes'] }), rel(4, 'plain', { kind: 'table' })],
      { hash: true },
    );
    const routines = new RoutineCatalog([]);
    for (const sql of ['SELECT * FROM notes', "INSERT INTO notes VALUES (1, 'x')", 'DELETE FROM notes']) {
      expect(catalogFacts(facts(sql), relations, routines).tablesReadThrough, sql).toEqual(['public.vault']);
    }
    expect([...catalogFacts(facts('SELECT * FROM v'), relations, routines).tablesReadThrough].sort()).toEqual(['public.notes', 'public.vault']);
    expect(catalogFacts(facts('SELECT * FROM plain'), relations, routines).tablesReadThrough).toEqual([]);
  });
});
