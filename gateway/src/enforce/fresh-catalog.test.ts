import { describe, expect, it } from 'vitest';
import type { Decision, PolicyInput } from '../policy/types.ts';
import { changedWhileHeld, freshCatalogFor, reachedRelations, type FreshRelations } from './fresh-catalog.ts';
import { RelationCatalog, type RelationInfo } from './relation-catalog.ts';
import type { ProbedStatement } from './write-probe.ts';

function rel(oid: number, name: string, more: Partial<RelationInfo> = {}): RelationInfo {
  return { oid, schema: 'clinical', name, qualified: `clinical.${name}`, kind: 'table', persistence: 'permanent', columns: [], reads: [], ancestors: [], structure: `s${oid}`, ...more };
}

const CATALOG = new RelationCatalog(
  [
    rel(1, 'patients', { keys: [{ kind: 'referenced', name: 'visits_mrn_fkey', columns: ['mrn'], from: 'clinical.visits' }], actionWrites: ['clinical.audit'] }),
    rel(2, 'visits', { foreignKeys: [{ name: 'visits_mrn_fkey', columns: ['mrn'], table: 'clinical.patients', referenced: ['mrn'] }] }),
    rel(3, 'audit'),
    rel(4, 'patients_v', { kind: 'view', reads: ['clinical.patients'] }),
    rel(5, 'parted', { kind: 'partitioned_table' }),
    rel(6, 'parted_1', { ancestors: ['clinical.parted'] }),
    rel(7, 'elsewhere'),
  ],
  { hash: true },
);

const input = (written: string[]): PolicyInput => ({ statement: { tables_read: [], tables_written: written } }) as unknown as PolicyInput;

const decision = (masked: boolean): Decision => ({
  id: 'd1',
  action: 'allow',
  reason: '',
  policies: [],
  masks: masked ? [{ table: 'clinical.patients', column: 'mrn', strategy: 'hash', policy: 'p' }] : [],
  engine: 'rego',
  revision: 'x',
  evalMicros: 0,
});

const write = (written: string[], masked = true): ProbedStatement => ({ text: 'w', input: input(written), decision: decision(masked) });

describe('reachedRelations', () => {
  it("is the written table, its views' tables, children and action targets transitively, and its foreign-key tables", () => {
    const names = (w: string[]) => reachedRelations([input(w)], CATALOG).map((r) => r.name).sort();
    expect(names(['clinical.patients_v'])).toEqual(['audit', 'patients', 'patients_v', 'visits']);
    expect(names(['clinical.parted'])).toEqual(['parted', 'parted_1']);
    expect(names(['clinical.visits'])).toEqual(['patients', 'visits']);
  });
});

describe('freshCatalogFor', () => {
  function relations(now: Map<number, string>, after: RelationCatalog = CATALOG) {
    let current = CATALOG;
    const asked: number[][] = [];
    let reads = 0;
    const r: FreshRelations = {
      current: () => current,
      structure: async (oids) => {
        asked.push([...oids]);
        return now;
      },
      fresh: async () => {
        reads++;
        current = after;
        return 'fresh';
      },
    };
    return { r, asked, reads: () => reads };
  }

  it('asks nothing for a write that meets no masked column, nor for a read', () => {
    const h = relations(new Map());
    expect(freshCatalogFor(h.r, [write(['clinical.patients'], false)], CATALOG)).toBeNull();
    expect(freshCatalogFor(h.r, [{ text: 'r', input: input([]), decision: decision(true) }], CATALOG)).toBeNull();
  });

  it('checks a write to a table read unmasked when the identity reads something else masked (R17a-3), not when it reads nothing masked', async () => {
    const h = relations(new Map([[7, 'changed']]));
    const plain = write(['clinical.elsewhere'], false);
    expect(freshCatalogFor(h.r, [{ ...plain, triggerReview: { unvouched: [], identity: 'clear' } }], CATALOG)).toBeNull();
    expect(await freshCatalogFor(h.r, [{ ...plain, triggerReview: { unvouched: [], identity: 'masked' } }], CATALOG)).toBe('same');
    expect(h.asked).toEqual([[7]]);
    expect(h.reads()).toBe(1);
  });

  it('same fingerprints: same, without reading the snapshot again', async () => {
    const h = relations(new Map([[2, 's2'], [1, 's1']]));
    expect(await freshCatalogFor(h.r, [write(['clinical.visits'])], CATALOG)).toBe('same');
    expect(h.asked[0]?.sort()).toEqual([1, 2]);
    expect(h.reads()).toBe(0);
  });

  it('a changed (or vanished) fingerprint reads the snapshot again: changed when it differs', async () => {
    const newer = new RelationCatalog([rel(1, 'patients', { structure: 'new' }), rel(2, 'visits')], { hash: true });
    const h = relations(new Map([[1, 'new'], [2, 's2']]), newer);
    expect(await freshCatalogFor(h.r, [write(['clinical.visits'])], CATALOG)).toBe('changed');
    expect(h.reads()).toBe(1);
    const gone = relations(new Map([[2, 's2']]));
    expect(await freshCatalogFor(gone.r, [write(['clinical.visits'])], CATALOG)).toBe('same'); // read again: the same snapshot came back
    expect(gone.reads()).toBe(1);
  });

  it('a check that fails answers failed (the write is refused)', async () => {
    const r: FreshRelations = { current: () => CATALOG, structure: () => Promise.reject(new Error('down')), fresh: async () => 'fresh' };
    expect(await freshCatalogFor(r, [write(['clinical.visits'])], CATALOG)).toBe('failed');
  });
});

describe('changedWhileHeld (a write approved after a wait, R17b-2)', () => {
  const newer = new RelationCatalog([rel(1, 'patients', { structure: 'new' }), rel(2, 'visits')], { hash: true });
  const relations = (now: Map<number, string>, structure?: () => Promise<Map<number, string>>): FreshRelations => {
    let current = CATALOG;
    return {
      current: () => current,
      structure: structure ?? (async () => now),
      fresh: async () => ((current = newer), 'fresh'),
    };
  };

  it('nothing to check, or the same fingerprints: no refusal', async () => {
    expect(changedWhileHeld(relations(new Map()), [write(['clinical.patients'], false)], CATALOG)).toBeNull();
    expect(await changedWhileHeld(relations(new Map([[1, 's1'], [2, 's2']])), [write(['clinical.visits'])], CATALOG)).toBeNull();
  });

  it('a changed fingerprint, or a check that fails, refuses with 55000 and says to send it again', async () => {
    const changed = await changedWhileHeld(relations(new Map([[1, 'new'], [2, 's2']])), [write(['clinical.visits'])], CATALOG);
    expect(changed?.code).toBe('CATALOG_STALE');
    expect(changed?.sqlstate).toBe('55000');
    expect(changed?.message).toMatch(/changed on the server .* while it waited for approval/);
    expect(changed?.hint).toMatch(/^Send the statement again/);
    const failed = await changedWhileHeld(relations(new Map(), () => Promise.reject(new Error('down'))), [write(['clinical.visits'])], CATALOG);
    expect(failed?.message).toMatch(/could not be checked again \(failed\)/);
  });
});
