// SQL fragments shared by the catalog reads that find the user functions a type runs: which types a
// type's input reaches, what a domain's constraints and default call, what PostgreSQL picks by a type
// without any name being written (operator classes, implicit and assignment casts), and the final
// step from pg_depend-style references to "schema.function" rows. One copy, so the relation snapshot's
// views (pg/relation-snapshot.ts), its writes (pg/relation-write-calls.ts) and its reads
// (pg/relation-type-calls.ts) cannot drift apart.

/**
 * Rows (type, reached): a type its input reaches directly: an array's element type, a domain's base
 * type, a composite type's attribute types; for types not made by initdb (oid 16384 and up,
 * FirstNormalObjectId: built-in types reach only built-in ones). Follow it recursively.
 */
export const TYPE_REACHES = `SELECT t.oid AS type, t.typelem AS reached FROM pg_catalog.pg_type t
     WHERE t.typelem <> 0 AND t.oid >= 16384
    UNION ALL
    SELECT t.oid, t.typbasetype FROM pg_catalog.pg_type t
     WHERE t.typbasetype <> 0 AND t.oid >= 16384
    UNION ALL
    SELECT t.oid, a.atttypid FROM pg_catalog.pg_type t
      JOIN pg_catalog.pg_attribute a ON a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
     WHERE t.typrelid <> 0 AND t.oid >= 16384`;

/**
 * For `source`, a relation with columns (owner, type): rows (owner, refclassid, refobjid) for what the
 * constraints (CHECK) of each domain type depend on, and what the type itself depends on (a domain's
 * DEFAULT: an INSERT that leaves the column out, or writes DEFAULT, runs it).
 */
export function domainDependencies(source: string): string {
  return `SELECT s.owner, d.refclassid, d.refobjid
      FROM ${source} s
      JOIN pg_catalog.pg_constraint c ON c.contypid = s.type
      JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_constraint'::regclass AND d.objid = c.oid
    UNION ALL
    SELECT s.owner, d.refclassid, d.refobjid
      FROM ${source} s
      JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_type'::regclass AND d.objid = s.type
     WHERE s.type >= 16384`;
}

/**
 * For `source` (owner, type): rows (owner, refclassid, refobjid) for the functions and operators
 * PostgreSQL chooses by a user type (oid 16384 and up) with none of them written: those of every
 * operator family with members for the type (btree comparison and sort support, hash functions, the
 * family's operators: ORDER BY, GROUP BY, DISTINCT, UNION, IN, merge and hash joins, windows, index
 * maintenance), and its implicit and assignment casts either way (`e = 1`, `e + 1`, an INSERT ...
 * SELECT into a column of another type).
 */
export function implicitTypeCalls(source: string): string {
  return `SELECT s.owner, 'pg_catalog.pg_proc'::regclass AS refclassid, ap.amproc::oid AS refobjid
      FROM ${source} s
      JOIN pg_catalog.pg_amproc ap ON s.type IN (ap.amproclefttype, ap.amprocrighttype)
     WHERE s.type >= 16384
    UNION ALL
    SELECT s.owner, 'pg_catalog.pg_operator'::regclass, ao.amopopr
      FROM ${source} s
      JOIN pg_catalog.pg_amop ao ON s.type IN (ao.amoplefttype, ao.amoprighttype)
     WHERE s.type >= 16384
    UNION ALL
    SELECT s.owner, 'pg_catalog.pg_proc'::regclass, c.castfunc
      FROM ${source} s
      JOIN pg_catalog.pg_cast c ON s.type IN (c.castsource, c.casttarget) AND c.castcontext IN ('i', 'a') AND c.castfunc <> 0
     WHERE s.type >= 16384`;
}

/**
 * The functions behind `deps` (owner, refclassid, refobjid), a function itself or an operator's
 * function, as rows (owner, schema, name), each once, outside pg_catalog and information_schema
 * unless `builtIns`; `owner` is selected as `ownerAs` (an int).
 */
export function calledFunctions(deps: string, ownerAs: string, builtIns = false): string {
  return `SELECT DISTINCT ${deps}.owner::int AS ${ownerAs}, n.nspname AS schema, p.proname AS name
  FROM ${deps}
  LEFT JOIN pg_catalog.pg_operator o ON ${deps}.refclassid = 'pg_catalog.pg_operator'::regclass AND o.oid = ${deps}.refobjid
  JOIN pg_catalog.pg_proc p ON p.oid = CASE WHEN ${deps}.refclassid = 'pg_catalog.pg_proc'::regclass THEN ${deps}.refobjid ELSE o.oprcode::oid END
  JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
 WHERE ${deps}.refclassid IN ('pg_catalog.pg_proc'::regclass, 'pg_catalog.pg_operator'::regclass)${builtIns ? '' : `
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')`}
 ORDER BY 1, 2, 3`;
}

/**
 * `reaches` (TYPE_REACHES) and `column_type`: (relation, a user type one of its columns has or
 * reaches), from the columns of user types. The opening of a `WITH RECURSIVE` query.
 */
export const COLUMN_TYPES = `WITH RECURSIVE reaches AS (
    ${TYPE_REACHES}
  ), column_type AS (
    SELECT a.attrelid AS owner, a.atttypid AS type
      FROM pg_catalog.pg_attribute a
     WHERE a.attnum > 0 AND NOT a.attisdropped AND a.atttypid >= 16384
    UNION
    SELECT c.owner, e.reached FROM column_type c JOIN reaches e ON e.type = c.type
  )`;

