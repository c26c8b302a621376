import { describe, expect, it } from 'vitest';
import { callsSqlTextFunction, KNOWN_SQL_TEXT_FUNCTIONS, runsSqlText } from './sql-text-functions.ts';

describe('runsSqlText', () => {
  it.each([
    'query_to_xml',
    'pg_catalog.query_to_xml',
    'query_to_xml_and_xmlschema',
    'pg_catalog.query_to_xmlschema',
    'table_to_xml',
    'schema_to_xml_and_xmlschema',
    'database_to_xml',
    'cursor_to_xml',
    'ts_stat',
    'pg_catalog.ts_rewrite',
    'pg_logical_slot_peek_changes',
    // "catalog.schema.name": PostgreSQL accepts the current database as the catalog.
    'clinic.pg_catalog.query_to_xml',
  ])('a built-in that runs SQL text: %s', (name) => {
    expect(runsSqlText(name)).toBe(true);
  });

  it.each(['dblink', 'public.dblink', 'ext.dblink_exec', 'dblink_build_sql_insert', 'crosstab', 'tools.crosstab3', 'connectby', 'xpath_table', 'get_raw_page'])(
    'an extension function in any schema: %s',
    (name) => {
      expect(runsSqlText(name)).toBe(true);
    },
  );

  it.each(['app.query_to_xml', 'reports.ts_stat', 'clinic.app.table_to_xml', 'now', 'pg_catalog.count', 'xmlagg', 'query_to_xmlx', 'pg_read_file', ''])(
    'not SQL text: %s',
    (name) => {
      expect(runsSqlText(name)).toBe(false);
    },
  );

  it('lists built-ins and extension functions apart, with no name in both', () => {
    const { builtIn, extension } = KNOWN_SQL_TEXT_FUNCTIONS;
    expect(builtIn).toContain('query_to_xml');
    expect(extension).toContain('dblink');
    expect(builtIn.filter((n) => extension.includes(n))).toEqual([]);
  });
});

describe('callsSqlTextFunction', () => {
  it('is true when any function called runs SQL text', () => {
    expect(callsSqlTextFunction(['count', 'pg_catalog.table_to_xml'])).toBe(true);
    expect(callsSqlTextFunction(['count', 'app.table_to_xml'])).toBe(false);
    expect(callsSqlTextFunction([])).toBe(false);
  });
});
