// The user functions a write to a table runs besides its triggers, read with the relation snapshot
// (pg/relation-snapshot.ts): those its column defaults and generated columns, CHECK constraints,
// index expressions and predicates, and the CHECK constraints of the domains its columns' types reach
// call (directly or through an operator), and the assignment casts to those types. They read any table
// raw and what they RAISE reaches the client, like a trigger's function, so a write lists them in
// statement.user_functions (red-team round 12, R12-1). A column's type reaches a domain through an
// array's element type, a domain's base type and a composite type's attributes (round 13, R13-2).

/** One (table, function) pair; from pg_depend, so a function named only inside a PL body is not seen. */
export const WRITE_CALLS = `WITH RECURSIVE reaches AS (
    -- (type, a type its input reaches): an array's elements, a domain's base, a composite's attributes.
    SELECT t.oid AS type, t.typelem AS reached FROM pg_catalog.pg_type t
     WHERE t.typelem <> 0 AND t.typnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
    UNION ALL
    SELECT t.oid, t.typbasetype FROM pg_catalog.pg_type t
     WHERE t.typbasetype <> 0 AND t.typnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
    UNION ALL
    SELECT t.oid, a.atttypid FROM pg_catalog.pg_type t
      JOIN pg_catalog.pg_attribute a ON a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
     WHERE t.typrelid <> 0 AND t.typnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
  ), column_type AS (
    -- (table, a type a write to one of its columns takes input of), from the columns of types not
    -- made by initdb (oid 16384 and up, FirstNormalObjectId: built-in types reach only built-in ones).
    SELECT a.attrelid AS rel, a.atttypid AS type
      FROM pg_catalog.pg_attribute a
     WHERE a.attnum > 0 AND NOT a.attisdropped AND a.atttypid >= 16384
    UNION
    SELECT c.rel, e.reached FROM column_type c JOIN reaches e ON e.type = c.type
  ), deps AS (
    SELECT ad.adrelid AS rel, d.refclassid, d.refobjid
      FROM pg_catalog.pg_attrdef ad
      JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_attrdef'::regclass AND d.objid = ad.oid
    UNION ALL
    SELECT c.conrelid, d.refclassid, d.refobjid
      FROM pg_catalog.pg_constraint c
      JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_constraint'::regclass AND d.objid = c.oid
     WHERE c.conrelid <> 0 AND c.contype = 'c'
    UNION ALL
    SELECT x.indrelid, d.refclassid, d.refobjid
      FROM pg_catalog.pg_index x
      JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = x.indexrelid
    UNION ALL
    SELECT ct.rel, d.refclassid, d.refobjid
      FROM column_type ct
      JOIN pg_catalog.pg_constraint c ON c.contypid = ct.type
      JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_constraint'::regclass AND d.objid = c.oid
    UNION ALL
    SELECT ct.rel, 'pg_catalog.pg_proc'::regclass, c.castfunc
      FROM column_type ct
      JOIN pg_catalog.pg_cast c ON c.casttarget = ct.type AND c.castcontext <> 'e' AND c.castfunc <> 0
  )
SELECT DISTINCT deps.rel::int AS rel, n.nspname AS schema, p.proname AS name
  FROM deps
  LEFT JOIN pg_catalog.pg_operator o ON deps.refclassid = 'pg_catalog.pg_operator'::regclass AND o.oid = deps.refobjid
  JOIN pg_catalog.pg_proc p ON p.oid = CASE WHEN deps.refclassid = 'pg_catalog.pg_proc'::regclass THEN deps.refobjid ELSE o.oprcode::oid END
  JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
 WHERE deps.refclassid IN ('pg_catalog.pg_proc'::regclass, 'pg_catalog.pg_operator'::regclass)
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
 ORDER BY 1, 2, 3`;

export interface WriteCallRow {
  rel: number;
  schema: string;
  name: string;
}

/** Each table's write calls ("schema.name", sorted, each once), keyed by its oid; rows of relations not in the snapshot are dropped. */
export function writeCallsByRelation(rows: readonly WriteCallRow[], relations: ReadonlyMap<number, unknown>): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const row of rows) {
    if (!relations.has(row.rel)) continue;
    out.set(row.rel, [...new Set([...(out.get(row.rel) ?? []), `${row.schema}.${row.name}`])].sort());
  }
  return out;
}
