// Reads the snapshot of the upstream database's functions, operators and types that masked
// statements are checked against (enforce/routine-catalog.ts, enforce/mask-routines.ts), over
// Gatehouse's own catalog connection; kept fresh by pg/catalog-snapshot.ts. Decisions are
// synchronous: they read the last one.

import type pg from 'pg';
import { CatalogSnapshot, type CatalogReader, type SnapshotSource, type SnapshotTiming } from './catalog-snapshot.ts';
import { RoutineCatalog, type RoutineRow } from '../enforce/routine-catalog.ts';
import { BUILT_IN_TYPE_CODE, TYPE_REACHES } from './type-calls-sql.ts';

/**
 * A routine is harmless under a mask when it cannot read a table by itself: it is built in (in
 * pg_catalog or information_schema), or a plain C or internal function (only a superuser can create
 * those). SQL and PL functions elsewhere can read any table, raw, whatever the statement's FROM
 * clause was rewritten to; so can aggregates and window functions built on them. An operator is
 * as harmless as its function. A type not made by initdb is harmful when it is a domain, range or
 * multirange (domain checks, range support functions), or has a cast using a harmful function, or an
 * operator family member (support function or operator) on one (sorting or hashing it runs them), or when
 * its input reaches such a type: an array's element type (`'{1}'::public._d` runs d's CHECK), a
 * composite type's attribute types (`'(1)'::t`, `ROW(1)::t`, `json_populate_record(NULL::t, ...)`), a
 * domain's base type (red-team round 13, R13-1). A built-in type is harmful when a superuser gave it
 * such a cast or member PostgreSQL picks by the type alone (BUILT_IN_TYPE_CODE: a DEFAULT
 * operator class for json on a PL function; red-team round 14, R14-1), and so is a built-in array of it.
 */
const SNAPSHOT = `WITH RECURSIVE fn AS (
  SELECT p.oid, n.nspname AS schema, p.proname AS name, p.proretset AS retset,
         (n.nspname IN ('pg_catalog', 'information_schema') OR (l.lanname IN ('c', 'internal') AND p.prokind IN ('f', 'w'))) AS harmless
    FROM pg_catalog.pg_proc p
    JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
    JOIN pg_catalog.pg_language l ON l.oid = p.prolang
), reaches AS (
  ${TYPE_REACHES}
), built_in_harmful AS (
  SELECT x.type FROM (${BUILT_IN_TYPE_CODE}) x JOIN fn ON fn.oid = x.func WHERE NOT fn.harmless
), risky AS (
  SELECT t.oid FROM pg_catalog.pg_type t
   WHERE (t.oid >= 16384
     AND (t.typtype IN ('d', 'r', 'm') OR EXISTS (
       SELECT 1 FROM pg_catalog.pg_cast c JOIN fn ON fn.oid = c.castfunc
        WHERE (c.casttarget = t.oid OR c.castsource = t.oid) AND NOT fn.harmless) OR EXISTS (
       SELECT 1 FROM pg_catalog.pg_amproc ap JOIN fn ON fn.oid = ap.amproc
        WHERE t.oid IN (ap.amproclefttype, ap.amprocrighttype) AND NOT fn.harmless) OR EXISTS (
       SELECT 1 FROM pg_catalog.pg_amop ao JOIN pg_catalog.pg_operator o ON o.oid = ao.amopopr JOIN fn ON fn.oid = o.oprcode
        WHERE t.oid IN (ao.amoplefttype, ao.amoprighttype) AND NOT fn.harmless)))
      OR t.oid IN (SELECT b.type FROM built_in_harmful b)
  UNION
  SELECT e.type FROM risky r JOIN reaches e ON e.reached = r.oid
)
SELECT 'function' AS kind, schema, name, bool_and(harmless) AS harmless, bool_or(retset) AS retset
  FROM fn GROUP BY schema, name
UNION ALL
SELECT 'operator', n.nspname, o.oprname, bool_and(coalesce(fn.harmless, true)), false
  FROM pg_catalog.pg_operator o
  JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace
  LEFT JOIN fn ON fn.oid = o.oprcode
 GROUP BY n.nspname, o.oprname
UNION ALL
SELECT 'type', n.nspname, t.typname, bool_and(r.oid IS NULL), false
  FROM pg_catalog.pg_type t
  JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
  LEFT JOIN (SELECT DISTINCT oid FROM risky) r ON r.oid = t.oid
 GROUP BY n.nspname, t.typname`;

/** The rows a routine snapshot is built from. */
export async function readRoutineRows(client: pg.Client): Promise<RoutineRow[]> {
  return (await client.query<RoutineRow>(SNAPSHOT)).rows;
}

export const ROUTINE_SNAPSHOT: SnapshotSource<RoutineRow[], RoutineCatalog> = {
  name: 'routine snapshot',
  read: readRoutineRows,
  build: (rows) => new RoutineCatalog(rows),
};

/**
 * A routine created after the last read is unknown to Gatehouse until the next one. Unknown names
 * are refused, but a new overload of a known name is not seen meanwhile, so the snapshot is
 * read again in the background once it is 30 s old (pg/catalog-snapshot.ts).
 */
export function routineSnapshot(
  reader: CatalogReader,
  log?: (message: string) => void,
  timing?: SnapshotTiming,
): CatalogSnapshot<RoutineRow[], RoutineCatalog> {
  return new CatalogSnapshot(reader, ROUTINE_SNAPSHOT, log, timing);
}
