// Builds TableRefs from parser RangeVars and name lists, resolving unqualified names the way
// PostgreSQL does, or to every table it might resolve to when that cannot be known in advance.
import type { TableRef } from './facts.ts';
import { str, type AstBody } from './ast.ts';
import { activeSystemRelations, type SystemRelations } from './system-relations.ts';

/**
 * How a relation name is used. `lookup` finds an existing relation (FROM, DML targets, DROP,
 * ALTER, ...); `create` names a new one (CREATE TABLE/VIEW/SEQUENCE, SELECT INTO), which
 * PostgreSQL puts in the first schema of the search path without searching.
 */
export type NameUse = 'lookup' | 'create';

/**
 * The schemas PostgreSQL searches for an unqualified relation name, in order: pg_catalog first
 * unless the path names it explicitly, then the path. `searchPath` is the session's explicit path
 * as the server reports it (`current_schemas(false)`: existing schemas, `$user` resolved).
 *
 * The session's temporary schema is left out on purpose. PostgreSQL searches it before everything
 * else, but a temporary table is the session's own: it was created, and filled, by statements this
 * policy decided. Reporting the table it shadows instead can only make the policy stricter.
 */
export function searchOrder(searchPath: readonly string[]): string[] {
  const order = searchPath.includes('pg_catalog') ? [...searchPath] : ['pg_catalog', ...searchPath];
  return [...new Set(order)];
}

/**
 * Resolves a possibly unqualified relation name to the tables it may denote.
 *
 * A qualified name is that table. An unqualified name being looked up is reported once for EVERY
 * schema of the search order PostgreSQL might find it in: Gatehouse cannot know which user schemas
 * hold a table of that name when the statement runs (one could be created meanwhile), so the
 * policy sees all of them and must permit all of them. The system schemas (pg_catalog,
 * information_schema) hold a fixed set of relations, known from the server: one that does not
 * hold the name is skipped, and one that holds it ends the search, as it does in PostgreSQL. So,
 * with the default path, `patients` is public.patients and `pg_class` is pg_catalog.pg_class; with
 * `pg_catalog, clinical` it is clinical.patients; with `clinical, public` both clinical.patients
 * and public.patients. A name found nowhere (the statement will fail) is reported in the first
 * schema searched. A new relation (`create`) goes to the first schema of the path.
 */
export function tableRefs(
  schema: string | null,
  name: string,
  searchPath: readonly string[],
  use: NameUse = 'lookup',
  system: SystemRelations = activeSystemRelations(),
): TableRef[] {
  if (schema !== null) return [ref(schema, name, true)];
  if (use === 'create') return [ref(searchPath[0] ?? 'pg_catalog', name, false)];
  const order = searchOrder(searchPath);
  const out: TableRef[] = [];
  for (const s of order) {
    const presence = system.lookup(s, name);
    if (presence === 'absent') continue;
    out.push(ref(s, name, false));
    if (presence === 'present') break;
  }
  if (out.length === 0) out.push(ref(order[0] ?? 'pg_catalog', name, false));
  return out;
}

function ref(schema: string, name: string, schemaExplicit: boolean): TableRef {
  return { schema, name, qualified: `${schema}.${name}`, schemaExplicit };
}

/**
 * A RangeVar body (`{catalogname?, schemaname?, relname, alias?, relpersistence}`) as the TableRefs
 * it may denote. A new temporary relation (`CREATE TEMP TABLE x`, `SELECT ... INTO TEMP x`, `CREATE
 * TEMP VIEW x`) is `pg_temp.x`, where PostgreSQL puts it, so that a policy can allow scratch tables
 * without allowing permanent ones. Later unqualified uses of `x` still report the permanent tables
 * the name could denote (see searchOrder); `pg_temp.x` names the temporary one exactly.
 */
export function tableRefsFromRangeVar(rangeVar: AstBody, searchPath: readonly string[], use: NameUse = 'lookup'): TableRef[] {
  const name = str(rangeVar, 'relname');
  if (name === null) return [];
  const schema = str(rangeVar, 'schemaname');
  if (use === 'create' && schema === null && str(rangeVar, 'relpersistence') === 't') return [ref('pg_temp', name, false)];
  return tableRefs(schema, name, searchPath, use);
}

/** A dotted name list (`[schema,] name` or `[catalog, schema, name]`) as the TableRefs it may denote. */
export function tableRefsFromNames(names: readonly string[], searchPath: readonly string[]): TableRef[] {
  const name = names[names.length - 1];
  if (name === undefined) return [];
  const schema = names.length >= 2 ? (names[names.length - 2] ?? null) : null;
  return tableRefs(schema, name, searchPath);
}
