// How names in a statement become tables and functions in its facts: unqualified relation names
// against the search path (table-ref.ts), function names in every form (function-names.ts).
import { beforeAll, describe, it } from 'vitest';
import { checkCase, type FactsCase } from './facts-case-support.ts';
import { loadSqlParser } from './parser.ts';

beforeAll(loadSqlParser);

const tables: Record<string, FactsCase> = {
  'pg_catalog named first: a table it does not hold is read from the next schema': {
    sql: 'SELECT ssn FROM patients',
    searchPath: ['pg_catalog', 'clinical'],
    read: ['clinical.patients'],
    columns: { 'clinical.patients': ['ssn'] },
  },
  'information_schema first: skipped the same way': {
    sql: 'SELECT ssn FROM patients',
    searchPath: ['information_schema', 'clinical'],
    read: ['clinical.patients'],
  },
  'several user schemas: the name in each, in search order': {
    sql: 'SELECT p.ssn FROM patients p WHERE p.id = 1',
    searchPath: ['public', 'clinical'],
    read: ['public.patients', 'clinical.patients'],
    columns: { 'public.patients': ['id', 'ssn'], 'clinical.patients': ['id', 'ssn'] },
  },
  'a catalog relation ends the search (implicit pg_catalog comes first)': {
    sql: 'SELECT relname FROM pg_class',
    searchPath: ['public', 'clinical'],
    read: ['pg_catalog.pg_class'],
  },
  'pg_catalog placed later: the schemas before it are searched first': {
    sql: 'SELECT relname FROM pg_class',
    searchPath: ['clinical', 'pg_catalog', 'public'],
    read: ['clinical.pg_class', 'pg_catalog.pg_class'],
  },
  'a pg_ name that is no catalog is a user table': { sql: 'SELECT * FROM pg_notes', read: ['public.pg_notes'] },
  'information_schema relation ends the search when the path names the schema': {
    sql: 'SELECT table_name FROM tables',
    searchPath: ['information_schema', 'clinical'],
    read: ['information_schema.tables'],
  },
  'information_schema is not searched unless named': { sql: 'SELECT * FROM tables', read: ['public.tables'] },
  'an empty path leaves pg_catalog only; a name found nowhere stays in it': {
    sql: 'SELECT * FROM patients',
    searchPath: ['pg_catalog'],
    read: ['pg_catalog.patients'],
  },
  'DML targets: written in every schema': {
    sql: "UPDATE patients SET ssn = 'x' WHERE id = 1",
    searchPath: ['public', 'clinical'],
    written: ['public.patients', 'clinical.patients'],
    columns: { 'public.patients': ['id', 'ssn'], 'clinical.patients': ['id', 'ssn'] },
  },
  'INSERT without a column list writes every column of every candidate': {
    sql: 'INSERT INTO visits VALUES (1)',
    searchPath: ['pg_catalog', 'clinical', 'public'],
    written: ['clinical.visits', 'public.visits'],
    columns: { 'clinical.visits': ['*'], 'public.visits': ['*'] },
  },
  'DROP and COMMENT name their tables the same way': {
    sql: 'DROP TABLE patients, pg_class',
    searchPath: ['pg_catalog', 'clinical'],
    written: ['clinical.patients', 'pg_catalog.pg_class'],
  },
  'COPY reads every candidate': {
    sql: 'COPY patients TO STDOUT',
    searchPath: ['information_schema', 'clinical'],
    read: ['clinical.patients'],
    columns: { 'clinical.patients': ['*'] },
  },
  'a new relation goes to the first schema of the path, not searched': {
    sql: 'CREATE TABLE x (id int REFERENCES y)',
    searchPath: ['information_schema', 'clinical'],
    written: ['information_schema.x'],
    read: ['clinical.y'],
  },
  'CREATE TABLE AS, SELECT INTO, CREATE VIEW and SEQUENCE create in the first schema': {
    sql: 'CREATE TABLE x AS SELECT ssn FROM patients',
    searchPath: ['pg_catalog', 'clinical'],
    written: ['pg_catalog.x'],
    read: ['clinical.patients'],
  },
  'SELECT INTO': { sql: 'SELECT ssn INTO x FROM patients', searchPath: ['clinical', 'public'], written: ['clinical.x'], read: ['clinical.patients', 'public.patients'] },
  'CREATE VIEW': { sql: 'CREATE VIEW v AS SELECT 1', searchPath: ['clinical', 'public'], written: ['clinical.v'] },
  'CREATE SEQUENCE': { sql: 'CREATE SEQUENCE s', searchPath: ['clinical', 'public'], written: ['clinical.s'] },
  'CREATE FOREIGN TABLE': { sql: 'CREATE FOREIGN TABLE f (a int) SERVER srv', searchPath: ['clinical', 'public'], written: ['clinical.f'] },
  'a CTE name is still no table': {
    sql: 'WITH patients AS (SELECT 1 AS ssn) SELECT ssn FROM patients',
    searchPath: ['public', 'clinical'],
    read: [],
  },
};

const functions: Record<string, FactsCase> = {
  'a database name in front of the schema is dropped': {
    sql: "SELECT mydb.pg_catalog.pg_read_file('/etc/hostname')",
    functions: ['pg_catalog.pg_read_file', 'pg_read_file'],
  },
  'a database name in front of another schema is dropped too': { sql: 'SELECT mydb.s.f()', functions: ['s.f'] },
  'attribute notation (x).f is a possible call of f': {
    sql: "SELECT (f).pg_read_file FROM (SELECT '/etc/hostname'::text AS f) s",
    functions: ['pg_read_file', 'pg_catalog.pg_read_file'],
  },
  'each name of a longer indirection is a possible call': {
    sql: 'SELECT (f).a.b, (f)[1] FROM s',
    functions: ['a', 'pg_catalog.a', 'b', 'pg_catalog.b'],
  },
  'column notation t.f on a function in FROM is a possible call of f': {
    sql: "SELECT t.pg_read_file FROM unnest(ARRAY['/etc/hostname']) t",
    functions: ['unnest', 'pg_catalog.unnest', 'pg_read_file', 'pg_catalog.pg_read_file'],
  },
  't.* is no call': { sql: 'SELECT t.* FROM t', functions: [] },
  'an unqualified column is no call': { sql: 'SELECT ssn FROM t', functions: [] },
};

describe('unqualified relation names resolve to every table PostgreSQL may read', () => {
  it.each(Object.entries(tables))('%s', (_name, c) => checkCase(c));
});

describe('function names in every form they can be written', () => {
  it.each(Object.entries(functions))('%s', (_name, c) => checkCase(c));
});
