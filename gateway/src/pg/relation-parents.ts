// Inheritance and partition parents (pg_inherits): read for every relation with the relation snapshot,
// and again for a few relations a read under a mask names (enforce/fresh-ancestry.ts): a table ATTACHed
// as a partition directly on the server after the snapshot is then seen before it is read (R21d-2).

import type pg from 'pg';

/** Every child and its direct parents (read with the snapshot). */
export const INHERITS = `SELECT inhrelid::int AS child, inhparent::int AS parent FROM pg_catalog.pg_inherits`;

/** The direct parents of some relations ($1) now. */
const PARENTS_OF = `SELECT inhrelid::int AS child, inhparent::int AS parent FROM pg_catalog.pg_inherits WHERE inhrelid = ANY($1::oid[])`;

/** The direct parents on the server now of those of `oids` that are a partition or an inheritance child. */
export async function readWithParents(client: pg.Client, oids: readonly number[]): Promise<Map<number, number[]>> {
  const out = new Map<number, number[]>();
  for (const r of (await client.query<{ child: number; parent: number }>(PARENTS_OF, [oids])).rows) {
    const list = out.get(r.child);
    if (list) list.push(r.parent);
    else out.set(r.child, [r.parent]);
  }
  return out;
}
