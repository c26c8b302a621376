// A read under a mask of a table whose parents changed on the server since the snapshot (red-team rounds
// 21d and 21f, R21d-2, R21f-1, R21f-2): a table ATTACHed directly on the server as a partition of a table
// partitioned by a masked column, after the snapshot was read (also after a DETACH from another parent, or
// NO INHERIT), would be read as the table the snapshot knows, its rows exactly those whose masked key is
// its bound (enforce/partition-membership.ts refuses naming it only once the snapshot knows its parent).
// Before such a read is settled, pg_inherits is asked for the direct parents of the tables it reads masked;
// if one is not among the table's ancestors in the snapshot, the snapshot is read again and the statement
// decided again, as a write whose
// constraints changed is (enforce/fresh-catalog.ts). Only where it can matter: a masked column of such a
// table has the name of a partition key column of some partitioned table in the snapshot (an attached
// partition has its parent's columns), or a key is an expression; a database without partitioned tables,
// and every read without masks, never waits.

import type { Decision, PolicyInput } from '../policy/types.ts';
import type { RelationCatalog } from './relation-catalog.ts';
import { FRESH_CATALOG_WAIT_MS, withTimeout, type FreshCatalogWait, type FreshRelations } from './fresh-catalog.ts';

/** What the check needs of a decided statement. */
export interface AncestryChecked {
  input: PolicyInput | null;
  decision: Decision;
}

/** The partition key columns of every partitioned table of a snapshot ('*': an expression key), once per snapshot. */
const keysOf = new WeakMap<RelationCatalog, ReadonlySet<string>>();

function partitionKeyColumns(relations: RelationCatalog): ReadonlySet<string> {
  let keys = keysOf.get(relations);
  if (keys === undefined) {
    const all = new Set<string>();
    for (const name of relations.names()) for (const c of relations.get(name)?.partitionKey ?? []) all.add(c);
    keysOf.set(relations, (keys = all));
  }
  return keys;
}

/** The oids of the tables `statements` read masked that would be partitions by a masked key if attached now (to another parent too). */
export function ancestryCandidates(statements: readonly AncestryChecked[], relations: RelationCatalog): number[] {
  if (!statements.some((s) => s.decision.action === 'mask' && s.decision.masks.length > 0)) return []; // the normal case: no allocation
  const keys = partitionKeyColumns(relations);
  if (keys.size === 0) return [];
  const out = new Set<number>();
  for (const s of statements) {
    if (s.decision.action !== 'mask') continue;
    for (const m of s.decision.masks) {
      if (!keys.has('*') && !keys.has(m.column)) continue;
      const rel = relations.get(m.table);
      if (rel === null) continue;
      if (rel.kind === 'table' || rel.kind === 'partitioned_table' || rel.kind === 'foreign_table') out.add(rel.oid);
    }
  }
  return [...out];
}

/**
 * null when no statement reads masked a table that could have become a partition by a masked key (nothing
 * waits); else the check, and whether the snapshot it leaves differs from `decidedWith`.
 */
export function freshAncestryFor(
  relations: FreshRelations,
  statements: readonly AncestryChecked[],
  decidedWith: RelationCatalog | null,
): Promise<'same' | 'changed' | Exclude<FreshCatalogWait, 'fresh'>> | null {
  const { fresh, withParents } = relations;
  if (fresh === undefined || withParents === undefined || decidedWith === null) return null;
  const oids = ancestryCandidates(statements, decidedWith);
  if (oids.length === 0) return null;
  return withTimeout(withParents.call(relations, oids), FRESH_CATALOG_WAIT_MS)
    .then((now) => {
      if (now === 'timeout') return 'timeout' as const;
      if (!hasNewParent(now, decidedWith)) return 'same' as const;
      return fresh.call(relations, FRESH_CATALOG_WAIT_MS).then((r) => (r !== 'fresh' ? r : relations.current() === decidedWith ? 'same' : 'changed'));
    })
    .catch(() => 'failed' as const);
}

/** Whether some relation has a direct parent on the server (`now`) that is not among its ancestors in `relations`. */
function hasNewParent(now: ReadonlyMap<number, readonly number[]>, relations: RelationCatalog): boolean {
  for (const [child, parents] of now) {
    const known = relations.byId(child)?.ancestors ?? [];
    for (const p of parents) {
      const parent = relations.byId(p);
      if (parent === null || !known.includes(parent.qualified)) return true;
    }
  }
  return false;
}
