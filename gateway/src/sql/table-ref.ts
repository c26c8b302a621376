// Builds TableRefs from parser RangeVars and name lists, resolving unqualified names.
import type { TableRef } from './facts.ts';
import { str, type AstBody } from './ast.ts';

/**
 * Resolves a possibly unqualified relation name. An unqualified name goes to the first
 * search_path schema, except names starting with `pg_`: PostgreSQL searches pg_catalog before
 * the search_path (unless pg_catalog is placed in it explicitly), and system catalogs and views
 * are all named pg_*, so `SELECT * FROM pg_authid` is reported as pg_catalog.pg_authid. A user
 * table named pg_* in the first schema would be misreported; that trade keeps catalog policies
 * from being bypassed by leaving the schema out.
 */
export function tableRef(schema: string | null, name: string, searchPath: readonly string[]): TableRef {
  if (schema !== null) return { schema, name, qualified: `${schema}.${name}`, schemaExplicit: true };
  const resolved = name.startsWith('pg_') && !searchPath.includes('pg_catalog') ? 'pg_catalog' : (searchPath[0] ?? 'public');
  return { schema: resolved, name, qualified: `${resolved}.${name}`, schemaExplicit: false };
}

/** A RangeVar body (`{schemaname?, relname, alias?}`) as a TableRef. */
export function tableRefFromRangeVar(rangeVar: AstBody, searchPath: readonly string[]): TableRef | null {
  const name = str(rangeVar, 'relname');
  if (name === null) return null;
  return tableRef(str(rangeVar, 'schemaname'), name, searchPath);
}

/** A dotted name list (`[schema,] name` or `[catalog, schema, name]`) as a TableRef. */
export function tableRefFromNames(names: readonly string[], searchPath: readonly string[]): TableRef | null {
  const name = names[names.length - 1];
  if (name === undefined) return null;
  const schema = names.length >= 2 ? (names[names.length - 2] ?? null) : null;
  return tableRef(schema, name, searchPath);
}
