// Which function calls run SQL, or read a relation's rows, named by a value (a string, a regclass, a
// cursor): the statement's facts cannot show what that SQL reads or writes, so the policy input says
// so in one fact, statement.runs_sql_text. Lists checked against pg_proc of PostgreSQL 15 and its
// contrib extensions (functions taking a query, a relation name or a cursor and returning rows).

/**
 * Built-in functions (schema pg_catalog): matched bare and as `pg_catalog.name`. A function of the
 * same name in another schema is someone's own function, not these.
 */
const BUILT_IN: ReadonlySet<string> = new Set([
  // XML export: run a query given as text, or read every row of a table, schema or database.
  'query_to_xml',
  'query_to_xml_and_xmlschema',
  'query_to_xmlschema',
  'table_to_xml',
  'table_to_xml_and_xmlschema',
  'table_to_xmlschema',
  'schema_to_xml',
  'schema_to_xml_and_xmlschema',
  'schema_to_xmlschema',
  'database_to_xml',
  'database_to_xml_and_xmlschema',
  'database_to_xmlschema',
  'cursor_to_xml',
  'cursor_to_xmlschema',
  // Full-text search: ts_stat(query text) runs its query; ts_rewrite(tsquery, text) runs the text
  // form's query. The facts do not carry arity, so the three-tsquery form counts too.
  'ts_stat',
  'ts_rewrite',
  // Logical decoding: the rows changed in any table, named by a replication slot.
  'pg_logical_slot_get_changes',
  'pg_logical_slot_peek_changes',
  'pg_logical_slot_get_binary_changes',
  'pg_logical_slot_peek_binary_changes',
]);

/**
 * Functions of contrib extensions, which an administrator installs in a schema of their choice:
 * matched bare and in any schema.
 */
const EXTENSION: ReadonlySet<string> = new Set([
  // dblink: runs SQL text on a connection (possibly back to this very database).
  'dblink',
  'dblink_exec',
  'dblink_open',
  'dblink_fetch',
  'dblink_close',
  'dblink_send_query',
  'dblink_get_result',
  'dblink_connect',
  'dblink_connect_u',
  // dblink_build_sql_*: read a local row by relation name and return it as SQL text.
  'dblink_build_sql_insert',
  'dblink_build_sql_update',
  'dblink_build_sql_delete',
  // tablefunc: crosstab runs its source query; connectby reads a table named by text.
  'crosstab',
  'crosstab2',
  'crosstab3',
  'crosstab4',
  'connectby',
  // xml2: builds and runs a query over the relation named by text.
  'xpath_table',
  // pageinspect: the raw pages and index entries of a relation named by text.
  'get_raw_page',
  'bt_page_items',
]);

/** Every name this module knows, for tests that check them against a real server's pg_proc. */
export const KNOWN_SQL_TEXT_FUNCTIONS = { builtIn: [...BUILT_IN], extension: [...EXTENSION] } as const;

/** Whether one recorded function name (lower-case, "name" or "schema.name") runs SQL given as a value. */
export function runsSqlText(name: string): boolean {
  const parts = name.split('.');
  const fn = parts[parts.length - 1] ?? '';
  // "catalog.schema.name" (PostgreSQL accepts only the current database there): the schema is the
  // next-to-last part.
  const schema = parts.length >= 2 ? parts[parts.length - 2] : null;
  if (EXTENSION.has(fn)) return true;
  return BUILT_IN.has(fn) && (schema === null || schema === 'pg_catalog');
}

/** statement.runs_sql_text: whether any function the statement calls runs SQL given as a value. */
export function callsSqlTextFunction(functions: readonly string[]): boolean {
  return functions.some(runsSqlText);
}
