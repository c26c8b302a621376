// SQL fragments shared by the catalog reads that find the user functions a type runs: which types a
// type's input reaches, what a domain's constraints and default call, what PostgreSQL picks by a type
// without any name being written (operator classes, implicit and assignment casts), and the final
// step from pg_depend-style references to "schema.function" rows. One copy, so the relation snapshot's
// views (pg/relation-snapshot.ts), its writes (pg/relation-write-calls.ts) and its reads
// (pg/relation-type-calls.ts) cannot drift apart.

/**
 * Rows (type, reached): a type its input reaches directly: an array's element type, a domain's base
 * type, a composite type's attribute types; for types not made by initdb (oid 16384 and up,
 * FirstNormalObjectId), and built-in arrays (`json[]` compares its elements with json's operator
 * class, which a superuser may have given user code: red-team round 14, R14-1). Follow it recursively.
 */
export const TYPE_REACHES = `SELECT t.oid AS type, t.typelem AS reached FROM pg_catalog.pg_type t
     WHERE t.typelem <> 0 AND (t.oid >= 16384 OR t.typcategory = 'A')
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

/** Whether operator family `family` holds its access method's default operator class for some type. */
function defaultFamily(family: string): string {
  return `${family} IN (SELECT dc.opcfamily FROM pg_catalog.pg_opclass dc WHERE dc.opcdefault)`;
}

/**
 * Whether a pg_amproc (`kind` 'proc') or pg_amop ('op') row `r` is user code made after initdb (oid
 * 16384 and up) between two built-in types in a family holding a default operator class: PostgreSQL
 * picks it by those built-in types alone. A member for a user type is counted by that type.
 */
function addedToBuiltIns(kind: 'proc' | 'op', r: string): string {
  const [left, right, family] = kind === 'proc' ? ['amproclefttype', 'amprocrighttype', 'amprocfamily'] : ['amoplefttype', 'amoprighttype', 'amopfamily'];
  return `(${r}.oid >= 16384 AND ${r}.${left} < 16384 AND ${r}.${right} < 16384 AND ${defaultFamily(`${r}.${family}`)})`;
}

/** The same for a pg_cast row `c`: an implicit or assignment cast made after initdb between two built-in types. */
function castAddedToBuiltIns(c: string): string {
  return `(${c}.oid >= 16384 AND ${c}.castsource < 16384 AND ${c}.casttarget < 16384)`;
}

/**
 * Rows (type, func): built-in types (made by initdb) and the function of user code a superuser gave
 * them that PostgreSQL picks by the types alone: a member (support function, or an operator's function)
 * of an operator family holding a default operator class (a DEFAULT class for a type that had none,
 * such as json; a cross-type member added to a built-in family), or an implicit or assignment cast,
 * made after initdb between built-in types. Members of families with no default class are picked only
 * by an index naming the class (pg/relation-type-calls.ts). Red-team round 14, R14-1.
 */
export const BUILT_IN_TYPE_CODE = `SELECT ap.amproclefttype AS type, ap.amproc::oid AS func FROM pg_catalog.pg_amproc ap WHERE ${addedToBuiltIns('proc', 'ap')}
    UNION
    SELECT ap.amprocrighttype, ap.amproc::oid FROM pg_catalog.pg_amproc ap WHERE ${addedToBuiltIns('proc', 'ap')}
    UNION
    SELECT ao.amoplefttype, o.oprcode::oid FROM pg_catalog.pg_amop ao JOIN pg_catalog.pg_operator o ON o.oid = ao.amopopr WHERE ${addedToBuiltIns('op', 'ao')}
    UNION
    SELECT ao.amoprighttype, o.oprcode::oid FROM pg_catalog.pg_amop ao JOIN pg_catalog.pg_operator o ON o.oid = ao.amopopr WHERE ${addedToBuiltIns('op', 'ao')}
    UNION
    SELECT c.castsource, c.castfunc FROM pg_catalog.pg_cast c WHERE ${castAddedToBuiltIns('c')} AND c.castcontext IN ('i', 'a') AND c.castfunc <> 0
    UNION
    SELECT c.casttarget, c.castfunc FROM pg_catalog.pg_cast c WHERE ${castAddedToBuiltIns('c')} AND c.castcontext IN ('i', 'a') AND c.castfunc <> 0`;

/**
 * For `source` (owner, type): rows (owner, refclassid, refobjid) for the functions and operators
 * PostgreSQL chooses by a type with none of them written: for a user type (oid 16384 and up), those
 * of every operator family with members for the type (btree comparison and sort support, hash
 * functions, the family's operators: ORDER BY, GROUP BY, DISTINCT, UNION, IN, merge and hash joins,
 * windows, index maintenance), and its implicit and assignment casts either way (`e = 1`, `e + 1`, an
 * INSERT ... SELECT into a column of another type); for a built-in type, the members and casts made
 * after initdb that BUILT_IN_TYPE_CODE counts.
 */
export function implicitTypeCalls(source: string): string {
  // Equality joins on one list of (type, member) rows: an OR join (type IN (left, right)) is planned
  // as a nested loop whose estimate alone turns on JIT compilation (seconds, for a read of ms).
  return `SELECT s.owner, m.refclassid, m.refobjid
      FROM ${source} s
      JOIN (
        SELECT ap.amproclefttype AS type, 'pg_catalog.pg_proc'::regclass AS refclassid, ap.amproc::oid AS refobjid,
               ${addedToBuiltIns('proc', 'ap')} AS added
          FROM pg_catalog.pg_amproc ap
        UNION ALL
        SELECT ap.amprocrighttype, 'pg_catalog.pg_proc'::regclass, ap.amproc::oid, ${addedToBuiltIns('proc', 'ap')}
          FROM pg_catalog.pg_amproc ap WHERE ap.amprocrighttype <> ap.amproclefttype
        UNION ALL
        SELECT ao.amoplefttype, 'pg_catalog.pg_operator'::regclass, ao.amopopr, ${addedToBuiltIns('op', 'ao')}
          FROM pg_catalog.pg_amop ao
        UNION ALL
        SELECT ao.amoprighttype, 'pg_catalog.pg_operator'::regclass, ao.amopopr, ${addedToBuiltIns('op', 'ao')}
          FROM pg_catalog.pg_amop ao WHERE ao.amoprighttype <> ao.amoplefttype
        UNION ALL
        SELECT c.castsource, 'pg_catalog.pg_proc'::regclass, c.castfunc, ${castAddedToBuiltIns('c')}
          FROM pg_catalog.pg_cast c WHERE c.castcontext IN ('i', 'a') AND c.castfunc <> 0
        UNION ALL
        SELECT c.casttarget, 'pg_catalog.pg_proc'::regclass, c.castfunc, ${castAddedToBuiltIns('c')}
          FROM pg_catalog.pg_cast c WHERE c.castcontext IN ('i', 'a') AND c.castfunc <> 0 AND c.casttarget <> c.castsource
      ) m ON m.type = s.type
     WHERE s.type >= 16384 OR m.added`;
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
 * The same functions as `calledFunctions` (user functions only), as rows (owner, item), item
 * 'p' || oid || ':' || xmin: the version of the function's pg_proc row, which any ALTER FUNCTION or
 * CREATE OR REPLACE changes. `owner` stays an oid, as in the fingerprint's other rows: a cast column in
 * one branch of a UNION ALL keeps PostgreSQL from pushing a filter on it into the branches.
 */
export function calledFunctionVersions(deps: string, ownerAs: string): string {
  return `SELECT DISTINCT ${deps}.owner AS ${ownerAs}, 'p' || p.oid || ':' || p.xmin AS item
  FROM ${deps}
  LEFT JOIN pg_catalog.pg_operator o ON ${deps}.refclassid = 'pg_catalog.pg_operator'::regclass AND o.oid = ${deps}.refobjid
  JOIN pg_catalog.pg_proc p ON p.oid = CASE WHEN ${deps}.refclassid = 'pg_catalog.pg_proc'::regclass THEN ${deps}.refobjid ELSE o.oprcode::oid END
  JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
 WHERE ${deps}.refclassid IN ('pg_catalog.pg_proc'::regclass, 'pg_catalog.pg_operator'::regclass)
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')`;
}

/** A predicate keeping some relations, given the column holding a relation's oid (none: every relation). */
export type RelationFilter = (rel: string) => string;

/**
 * `reaches` (TYPE_REACHES) and `column_type`: (relation, a user type one of its columns has or
 * reaches), from the columns of user types, of the relations `only` keeps. The opening of a `WITH
 * RECURSIVE` query.
 */
export function columnTypes(only?: RelationFilter): string {
  return `WITH RECURSIVE reaches AS (
    ${TYPE_REACHES}
  ), column_type AS (
    SELECT a.attrelid AS owner, a.atttypid AS type
      FROM pg_catalog.pg_attribute a
     WHERE a.attnum > 0 AND NOT a.attisdropped AND a.atttypid >= 16384${only === undefined ? '' : ` AND ${only('a.attrelid')}`}
    UNION
    SELECT c.owner, e.reached FROM column_type c JOIN reaches e ON e.type = c.type
  )`;
}

/** columnTypes() for every relation. */
export const COLUMN_TYPES = columnTypes();

