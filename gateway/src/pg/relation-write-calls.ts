// The user functions a write to a table runs besides its triggers, read with the relation snapshot
// (pg/relation-snapshot.ts): those its column defaults and generated columns, CHECK constraints,
// index expressions and predicates, and the CHECK constraints and DEFAULTs of the domains its columns'
// types reach call (directly or through an operator), and the assignment casts to those types. They read any table
// raw and what they RAISE reaches the client, like a trigger's function, so a write lists them in
// statement.user_functions (red-team round 12, R12-1). A column's type reaches a domain through an
// array's element type, a domain's base type and a composite type's attributes (round 13, R13-2); a
// domain's DEFAULT runs when an INSERT leaves its column out (masking14).

import { calledFunctions, calledFunctionVersions, columnTypes, domainDependencies, type RelationFilter } from './type-calls-sql.ts';

/**
 * One (table, function) pair; from pg_depend, so a function named only inside a PL body is not seen.
 * The types a write takes input of are its columns' types and the types those reach (shared
 * fragments: pg/type-calls-sql.ts); their domains' CHECK constraints and DEFAULTs run.
 */
function writeDeps(only?: RelationFilter): string {
  const and = (rel: string): string => (only === undefined ? '' : ` AND ${only(rel)}`);
  const where = (rel: string): string => (only === undefined ? '' : `\n     WHERE ${only(rel)}`);
  return `${columnTypes(only)}, deps AS (
    SELECT ad.adrelid AS owner, d.refclassid, d.refobjid
      FROM pg_catalog.pg_attrdef ad
      JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_attrdef'::regclass AND d.objid = ad.oid${where('ad.adrelid')}
    UNION ALL
    SELECT c.conrelid, d.refclassid, d.refobjid
      FROM pg_catalog.pg_constraint c
      JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_constraint'::regclass AND d.objid = c.oid
     WHERE c.conrelid <> 0 AND c.contype = 'c'${and('c.conrelid')}
    UNION ALL
    SELECT x.indrelid, d.refclassid, d.refobjid
      FROM pg_catalog.pg_index x
      JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = x.indexrelid${where('x.indrelid')}
    UNION ALL
    ${domainDependencies('column_type')}
    UNION ALL
    SELECT ct.owner, 'pg_catalog.pg_proc'::regclass, c.castfunc
      FROM column_type ct
      JOIN pg_catalog.pg_cast c ON c.casttarget = ct.type AND c.castcontext <> 'e' AND c.castfunc <> 0
  )`;
}

export const WRITE_CALLS = `${writeDeps()}
${calledFunctions('deps', 'rel')}`;

/**
 * The same calls as rows (rel, item), item 'p' || oid || ':' || xmin of the function's pg_proc row, for
 * the relation fingerprint (pg/relation-structure.ts): ALTER FUNCTION ... OWNER TO, SET search_path or
 * CREATE OR REPLACE of a function a CHECK constraint, default or index calls changes it (R20b-4).
 */
export function writeCallVersions(only?: RelationFilter): string {
  return `${writeDeps(only)}
${calledFunctionVersions('deps', 'rel')}`;
}

export interface WriteCallRow {
  rel: number;
  schema: string;
  name: string;
}

/** Each table's calls ("schema.name", sorted, each once), keyed by its oid; rows of relations not in the snapshot are dropped. */
export function callsByRelation(rows: readonly WriteCallRow[], relations: ReadonlyMap<number, unknown>): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const row of rows) {
    if (!relations.has(row.rel)) continue;
    out.set(row.rel, [...new Set([...(out.get(row.rel) ?? []), `${row.schema}.${row.name}`])].sort());
  }
  return out;
}
