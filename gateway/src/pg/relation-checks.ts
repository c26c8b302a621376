// CHECK constraints of user tables and the columns each one uses (pg_constraint contype 'c', conkey), and
// the row-level security policies of tables with it enabled (pg_policy, their columns from pg_depend): an
// update that assigns one of those columns has PostgreSQL test the expression against the stored values of
// the others, an oracle when one of them is masked (red-team round 21a, R21a-1; enforce/check-oracles.ts).

import type { CheckConstraint } from '../enforce/relation-catalog.ts';

export const CHECK_CONSTRAINTS = `SELECT * FROM (
  SELECT c.conrelid::int AS rel, 'check' AS kind, c.conname AS name, c.convalidated AS validated,
      ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
             WHERE a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey) ORDER BY a.attnum) AS columns
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
             ORDER BY a.attnum)
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
}

/** Each table's CHECK constraints, by the table's oid. */
export function checksByRelation(rows: readonly CheckRow[]): Map<number, CheckConstraint[]> {
  const out = new Map<number, CheckConstraint[]>();
  for (const r of rows) {
    let list = out.get(r.rel);
    if (!list) out.set(r.rel, (list = []));
    list.push({ kind: r.kind, name: r.name, columns: r.columns, validated: r.validated });
  }
  return out;
}
