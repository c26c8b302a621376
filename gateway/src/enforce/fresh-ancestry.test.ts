import { describe, expect, it } from 'vitest';
import type { Decision, MaskRule } from '../policy/types.ts';
import { ancestryCandidates, freshAncestryFor, type AncestryChecked } from './fresh-ancestry.ts';
import type { FreshRelations } from './fresh-catalog.ts';
import { RelationCatalog, type RelationInfo } from './relation-catalog.ts';

function rel(oid: number, name: string, more: Partial<RelationInfo> = {}): RelationInfo {
  return { oid, schema: 'public', name, qualified: `public.${name}`, kind: 'table', persistence: 'permanent', columns: [], reads: [], ancestors: [], ...more };
}

const PLAIN = new RelationCatalog([rel(1, 'notes'), rel(2, 'late_a')], { hash: true });
const PARTED = new RelationCatalog([rel(1, 'notes'), rel(2, 'late_a'), rel(3, 'late', { kind: 'partitioned_table', partitionKey: ['secret'] }), rel(4, 'late_rest', { ancestors: ['public.late'] }), rel(5, 'v', { kind: 'view' })], { hash: true });
const ATTACHED = new RelationCatalog([rel(2, 'late_a', { ancestors: ['public.late'] }), rel(3, 'late', { kind: 'partitioned_table', partitionKey: ['secret'] })], { hash: true });

const mask = (table: string, column = 'secret'): MaskRule => ({ table: `public.${table}`, column, strategy: 'redact', policy: 'p' });
const read = (action: Decision['action'], masks: MaskRule[]): AncestryChecked => ({
  input: null,
  decision: { id: 'd1', action, reason: '', policies: [], masks, engine: 'rego', revision: 'x', evalMicros: 0 },
});

describe('ancestryCandidates', () => {
  it('is the tables read masked, with or without parents (one may move to another: R21f-1), by a column some partition key has, in a snapshot with partitioned tables', () => {
    expect(ancestryCandidates([read('mask', [mask('late_a'), mask('late_rest'), mask('v'), mask('late')])], PARTED)).toEqual([2, 4, 3]);
    expect(ancestryCandidates([read('mask', [mask('late_a', 'other')])], PARTED)).toEqual([]);
    expect(ancestryCandidates([read('allow', [])], PARTED)).toEqual([]);
    expect(ancestryCandidates([read('mask', [mask('late_a')])], PLAIN)).toEqual([]); // no partitioned table: nothing waits
  });

  it('counts every masked column when a partition key is an expression', () => {
    const expr = new RelationCatalog([rel(2, 'late_a'), rel(3, 'late', { kind: 'partitioned_table', partitionKey: ['*'] })], { hash: true });
    expect(ancestryCandidates([read('mask', [mask('late_a', 'other')])], expr)).toEqual([2]);
  });
});

describe('freshAncestryFor', () => {
  function relations(withParents: Map<number, number[]>, after: RelationCatalog) {
    let current = PARTED;
    const asked: number[][] = [];
    const r: FreshRelations = {
      current: () => current,
      withParents: async (oids) => {
        asked.push([...oids]);
        return withParents;
      },
      fresh: async () => {
        current = after;
        return 'fresh';
      },
    };
    return { r, asked };
  }

  it('is null for a read without masks; same when no candidate has a parent now; changed when one has and the snapshot read again knows it', async () => {
    expect(freshAncestryFor(relations(new Map(), PARTED).r, [read('allow', [])], PARTED)).toBeNull();
    const same = relations(new Map(), PARTED);
    expect(await freshAncestryFor(same.r, [read('mask', [mask('late_a')])], PARTED)).toBe('same');
    expect(same.asked).toEqual([[2]]);
    expect(await freshAncestryFor(relations(new Map([[2, [3]]]), ATTACHED).r, [read('mask', [mask('late_a')])], PARTED)).toBe('changed');
  });

  it('is same when a child\'s parents on the server are its ancestors in the snapshot, changed when one is not (detached, then attached elsewhere: R21f-1, R21f-2)', async () => {
    expect(await freshAncestryFor(relations(new Map([[4, [3]]]), PARTED).r, [read('mask', [mask('late_rest')])], PARTED)).toBe('same');
    const moved = relations(new Map([[4, [99]]]), ATTACHED);
    expect(await freshAncestryFor(moved.r, [read('mask', [mask('late_rest')])], PARTED)).toBe('changed');
    expect(moved.asked).toEqual([[4]]);
  });

  it('fails closed when the check fails', async () => {
    const r: FreshRelations = { current: () => PARTED, withParents: () => Promise.reject(new Error('down')), fresh: async () => 'fresh' };
    expect(await freshAncestryFor(r, [read('mask', [mask('late_a')])], PARTED)).toBe('failed');
  });
});
