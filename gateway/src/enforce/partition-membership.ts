// Partition membership as a masked value (red-team round 21a, R21a-5): a partition holds exactly the rows
// whose partition key is in its bound, and bounds are catalog metadata any identity reads. For a table
// partitioned by a masked column, naming one of its partitions tells that column's value (a list bound),
// its range, or its hash bucket (which the built-in satisfies_hash_partition() computes for any guess), in
// a read's rows or a write's row count. So under such a mask a partition is not named directly: the rows
// are read through the parent, where the mask hides the key.

import type { TableMasks } from './mask-applied.ts';
import type { RelationCatalog, RelationInfo } from './relation-catalog.ts';
import type { RewriteRefusal } from './rewrite-refusal.ts';

/** Why naming `rel`, read with `masks`, would tell a masked partition key of one of its ancestors, or null. */
export function partitionMembershipRefusal(rel: RelationInfo, masks: TableMasks, relations: RelationCatalog): RewriteRefusal | null {
  for (const a of rel.ancestors) {
    const key = relations.get(a)?.partitionKey ?? [];
    // An expression key ('*') may read any column: it counts as masked as soon as one is.
    const column = key.find((c) => (c === '*' ? masks.size > 0 : masks.has(c)));
    if (column === undefined) continue;
    const what = column === '*' ? 'an expression over its columns' : `column "${column}"`;
    return {
      message: `Gatehouse does not run this statement while a mask applies: ${rel.qualified} is a partition of ${a}, which is partitioned by ${what}, masked for you, so the rows of one partition would tell their masked value (its partition bound)`,
      hint: `Read or write ${a} instead: its masked columns are then masked, whichever partition the rows are in.`,
    };
  }
  return null;
}
