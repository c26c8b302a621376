// CHECK constraints of user tables and the columns each one uses (pg_constraint contype 'c', conkey), and
// the row-level security policies of tables with it enabled (pg_policy, their columns from pg_depend): an
// update that assigns one of those columns has PostgreSQL test the expression against the stored values of
// the others, an oracle when one of them is masked (red-team round 21a, R21a-1; enforce/check-oracles.ts).
// A policy's expressions may also read other tables (subqueries): pg_depend lists them too (R21d-5). Only
// the tables are kept, not their columns: pg_depend drops a table's whole-table entry once one of its
// columns is listed, and a whole-row reference (`SELECT v::text FROM vault v WHERE v.id = 1`) adds no
// entry of its own, so the columns listed are not all the policy reads. A function outside pg_catalog the
// policy calls may read any table (R21f-5): it counts as a read of a table that may be masked.

import type { CheckConstraint } from '../enforce/relation-catalog.ts';

/** What names a relation by its oid (the snapshot's relation rows). */
type NameOf = ReadonlyMap<number, { schema: string; name: string }>;

export const CHECK_CONSTRAINTS = `SELECT * FROM (
  SELECT c.conrelid::int AS rel, 'check' AS kind, c.conname AS name, c.convalidated AS validated,
      ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
             WHERE a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey) ORDER BY a.attnum) AS columns,
      ARRAY[]::int[] AS reads, ARRAY[]::text[] AS calls
    FROM pg_catalog.pg_constraint c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.connamespace
   WHERE c.contype = 'c' AND c.conrelid <> 0 AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  UNION ALL
  -- Row-level security policies of tables with it enabled: their USING and WITH CHECK columns (pg_depend
  -- does not say which expression uses which: both count).
  SELECT pol.polrelid::int, 'policy', pol.polname, true,
      ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
             WHERE a.attrelid = pol.polrelid AND a.attnum IN (
                   SELECT d.refobjsubid FROM pg_catalog.pg_depend d
                    WHERE d.classid = 'pg_catalog.pg_policy'::regclass AND d.objid = pol.oid
                      AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid = pol.polrelid AND d.refobjsubid > 0)
             ORDER BY a.attnum),
      -- Other relations its expressions read (subqueries): their rows filter or check this table's (R21d-5).
      ARRAY(SELECT DISTINCT d.refobjid::int FROM pg_catalog.pg_depend d
             WHERE d.classid = 'pg_catalog.pg_policy'::regclass AND d.objid = pol.oid
               AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid <> pol.polrelid ORDER BY 1),
      -- Functions outside pg_catalog its expressions call: what tables they read is unknown (R21f-5).
      ARRAY(SELECT DISTINCT d.refobjid::regprocedure::text FROM pg_catalog.pg_depend d
              JOIN pg_catalog.pg_proc p ON p.oid = d.refobjid
             WHERE d.classid = 'pg_catalog.pg_policy'::regclass AND d.objid = pol.oid
               AND d.refclassid = 'pg_catalog.pg_proc'::regclass AND p.pronamespace <> 'pg_catalog'::regnamespace ORDER BY 1)
    FROM pg_catalog.pg_policy pol
    JOIN pg_catalog.pg_class r ON r.oid = pol.polrelid
   WHERE r.relrowsecurity
) x ORDER BY rel, kind, name`;

export interface CheckRow {
  rel: number;
  kind: 'check' | 'policy';
  name: string;
  validated: boolean;
  columns: string[];
  /** A policy's: the oids of other relations its expressions read. Absent in rows read before they were (tests): none. */
  reads?: number[];
  /** A policy's: the functions outside pg_catalog its expressions call (regprocedure text). Absent: none. */
  calls?: string[];
}

/** Each table's CHECK constraints, by the table's oid. A relation read that `names` does not know counts by its oid. */
export function checksByRelation(rows: readonly CheckRow[], names: NameOf): Map<number, CheckConstraint[]> {
  const out = new Map<number, CheckConstraint[]>();
  for (const r of rows) {
    let list = out.get(r.rel);
    if (!list) out.set(r.rel, (list = []));
    const reads = (r.reads ?? []).map((oid) => {
      const n = names.get(oid);
      return n ? `${n.schema}.${n.name}` : `oid ${oid}`; // not in the snapshot: enforce/check-oracles.ts counts it as masked
    });
    const calls = r.calls ?? [];
    list.push({ kind: r.kind, name: r.name, columns: r.columns, validated: r.validated, ...(reads.length > 0 ? { reads } : {}), ...(calls.length > 0 ? { calls } : {}) });
  }
  return out;
}
