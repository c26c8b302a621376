// The names a function call is recorded under in the statement facts, so that a policy matching
// either `f` or `pg_catalog.f` sees every way of calling the built-in f.

const CATALOG = 'pg_catalog';

/**
 * The names recorded for a call written as `names` (`f`, `schema.f` or `database.schema.f`),
 * lower-case:
 * - a leading database name is dropped (PostgreSQL accepts only the current database there), so
 *   `mydb.pg_catalog.pg_read_file` is `pg_catalog.pg_read_file`;
 * - a call that may reach a built-in, unqualified or qualified with pg_catalog, is recorded both
 *   bare and as `pg_catalog.f`: PostgreSQL looks an unqualified name up in pg_catalog first
 *   (unless the search path places it later), so policies can match either form;
 * - a call qualified with another schema is that schema's function: `schema.f` only.
 */
export function functionNames(names: readonly string[]): string[] {
  const lower = names.map((n) => n.toLowerCase());
  const f = lower[lower.length - 1];
  if (f === undefined || f === '') return [];
  const schema = lower.length >= 2 ? lower[lower.length - 2] : undefined;
  if (schema === undefined || schema === CATALOG) return [f, `${CATALOG}.${f}`];
  return [`${schema}.${f}`];
}
