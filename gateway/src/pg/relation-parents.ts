// Inheritance and partition parents (pg_inherits): read for every relation with the relation snapshot,
// and again for a few relations a read under a mask names (enforce/fresh-ancestry.ts): a table ATTACHed
// as a partition directly on the server after the snapshot is then seen before it is read (R21d-2).

import type pg from 'pg';

/** Every child and its direct parents (read with the snapshot). */
export const INHERITS = `SELECT inhrelid::int AS child, inhparent::int AS parent FROM pg_catalog.pg_inherits`;

/** Those of some relations ($1) that have a parent now. */
const WITH_PARENTS = `SELECT DISTINCT inhrelid::int AS child FROM pg_catalog.pg_inherits WHERE inhrelid = ANY($1::oid[])`;

/** The oids among `oids` that are a partition or an inheritance child on the server now. */
export async function readWithParents(client: pg.Client, oids: readonly number[]): Promise<Set<number>> {
  return new Set((await client.query<{ child: number }>(WITH_PARENTS, [oids])).rows.map((r) => r.child));
}
