import { beforeAll, describe, it } from 'vitest';
import { checkCase, type FactsCase } from './facts-case-support.ts';
import { loadSqlParser } from './parser.ts';

beforeAll(loadSqlParser);

const cases: Record<string, FactsCase> = {
  'unqualified name resolves to the first search_path schema': {
    sql: 'SELECT name FROM patients',
    read: ['public.patients'],
    columns: { 'public.patients': ['name'] },
  },
  'custom search_path: the name in every schema PostgreSQL may find it in': {
    sql: 'SELECT name FROM patients',
    searchPath: ['clinic', 'public'],
    read: ['clinic.patients', 'public.patients'],
    columns: { 'clinic.patients': ['name'], 'public.patients': ['name'] },
  },
  'schema-qualified name is kept': { sql: 'SELECT * FROM clinic.patients', read: ['clinic.patients'], columns: { 'clinic.patients': ['*'] } },
  'quoted identifiers keep their case': {
    sql: 'SELECT "Patients"."SSN" FROM "MySchema"."Patients"',
    read: ['MySchema.Patients'],
    columns: { 'MySchema.Patients': ['SSN'] },
  },
  'unquoted identifiers are lower-cased': { sql: 'SELECT SSN FROM Clinic.PATIENTS', read: ['clinic.patients'], columns: { 'clinic.patients': ['ssn'] } },
  'join: qualified refs map through aliases': {
    sql: "SELECT * FROM patients p JOIN visits v ON v.patient_id = p.id WHERE p.ssn = '1'",
    read: ['public.patients', 'public.visits'],
    columns: { 'public.patients': ['*', 'id', 'ssn'], 'public.visits': ['*', 'patient_id'] },
    hasWhere: true,
  },
  'ambiguous unqualified ref is listed under every table in scope': {
    sql: 'SELECT ssn FROM patients, visits',
    columns: { 'public.patients': ['ssn'], 'public.visits': ['ssn'] },
  },
  't.* is "*" for that table only': {
    sql: 'SELECT p.*, v.id FROM patients p, visits v',
    columns: { 'public.patients': ['*'], 'public.visits': ['id'] },
  },
  'three-part column reference': {
    sql: 'SELECT public.patients.ssn FROM patients',
    columns: { 'public.patients': ['ssn'] },
  },
  'whole-row reference counts as "*"': { sql: 'SELECT to_jsonb(p) FROM patients p', columns: { 'public.patients': ['*', 'p'] } },
  'field of a whole-row reference counts as "*"': { sql: 'SELECT (p).ssn FROM patients p', columns: { 'public.patients': ['*', 'p'] } },
  'JOIN USING columns go to both sides': {
    sql: 'SELECT v.at FROM patients JOIN visits v USING (id)',
    columns: { 'public.patients': ['id'], 'public.visits': ['at', 'id'] },
  },
  'subquery in WHERE, correlated': {
    sql: 'SELECT p.name FROM patients p WHERE EXISTS (SELECT 1 FROM visits v WHERE v.pid = p.id)',
    read: ['public.patients', 'public.visits'],
    columns: { 'public.patients': ['id', 'name'], 'public.visits': ['pid'] },
  },
  'subquery in FROM: its columns belong to its own tables': {
    sql: 'SELECT s.ssn FROM (SELECT * FROM patients) s',
    read: ['public.patients'],
    columns: { 'public.patients': ['*'] },
  },
  'LATERAL subquery sees the earlier FROM items': {
    sql: 'SELECT * FROM patients p, LATERAL (SELECT v.at FROM visits v WHERE v.pid = p.id) l',
    columns: { 'public.patients': ['*', 'id'], 'public.visits': ['at', 'pid'] },
  },
  'CTE name is not a table': {
    sql: 'WITH x AS (SELECT ssn FROM patients) SELECT * FROM x',
    read: ['public.patients'],
    columns: { 'public.patients': ['ssn'] },
  },
  'non-recursive CTE body reading a table of the same name reads the table': {
    sql: 'WITH patients AS (SELECT * FROM patients) SELECT ssn FROM patients',
    read: ['public.patients'],
  },
  'schema-qualified name is never a CTE': {
    sql: 'WITH patients AS (SELECT 1) SELECT * FROM public.patients',
    read: ['public.patients'],
  },
  'later CTE refers to an earlier one': {
    sql: 'WITH a AS (SELECT ssn FROM patients), b AS (SELECT * FROM a) SELECT * FROM b',
    read: ['public.patients'],
  },
  'recursive CTE refers to itself': {
    sql: 'WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r, nodes) SELECT * FROM r',
    read: ['public.nodes'],
  },
  'nested WITH is scoped to its subquery': {
    sql: 'SELECT * FROM (WITH x AS (SELECT 1) SELECT * FROM x) s, x',
    read: ['public.x'],
  },
  'set operation reads both arms': {
    sql: 'SELECT ssn FROM patients UNION SELECT ssn FROM archive.patients ORDER BY 1',
    read: ['public.patients', 'archive.patients'],
  },
  'functions, lower-cased, built-ins bare and as pg_catalog.f': {
    sql: "SELECT pg_catalog.pg_read_file('/etc/passwd'), PG_READ_FILE('x'), count(*), s.f() FROM t",
    functions: ['pg_catalog.pg_read_file', 'pg_read_file', 'count', 'pg_catalog.count', 's.f'],
  },
  'functions in FROM': { sql: 'SELECT * FROM generate_series(1, 3) g', read: [], functions: ['generate_series', 'pg_catalog.generate_series'] },
  'psql \\d catalog query keeps pg_catalog': {
    sql:
      "SELECT c.oid, n.nspname, c.relname FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace " +
      "WHERE c.relname OPERATOR(pg_catalog.~) '^(patients)$' COLLATE pg_catalog.default AND pg_catalog.pg_table_is_visible(c.oid) ORDER BY 2, 3",
    read: ['pg_catalog.pg_class', 'pg_catalog.pg_namespace'],
    columns: { 'pg_catalog.pg_class': ['oid', 'relname', 'relnamespace'], 'pg_catalog.pg_namespace': ['nspname', 'oid'] },
    // Qualified column names are also possible calls (functional notation: `c.oid` may be oid(c)).
    functions: ['pg_catalog.pg_table_is_visible', 'pg_table_is_visible', 'oid', 'pg_catalog.oid', 'nspname', 'pg_catalog.nspname', 'relname', 'pg_catalog.relname', 'relnamespace', 'pg_catalog.relnamespace'],
  },
  'unqualified pg_* relation resolves to pg_catalog': { sql: 'SELECT * FROM pg_authid', read: ['pg_catalog.pg_authid'] },
  'TABLESAMPLE and XMLTABLE sources': {
    sql: "SELECT * FROM t x TABLESAMPLE SYSTEM (1), XMLTABLE('/a' PASSING (SELECT d FROM docs) COLUMNS a int) xt",
    read: ['public.t', 'public.docs'],
  },
  'FOR UPDATE OF names an alias, not a table': { sql: 'SELECT * FROM patients p FOR UPDATE OF p', read: ['public.patients'], written: [] },
  // Data-modifying statements.
  'INSERT column list and SELECT source': {
    sql: 'INSERT INTO patients (name, ssn) SELECT n, s FROM staging',
    read: ['public.staging'],
    written: ['public.patients'],
    columns: { 'public.patients': ['name', 'ssn'], 'public.staging': ['n', 's'] },
  },
  'INSERT without column list writes every column': { sql: "INSERT INTO patients VALUES (1, 'x')", columns: { 'public.patients': ['*'] } },
  'INSERT ON CONFLICT: excluded is the target': {
    sql: 'INSERT INTO t (a, b) VALUES (1, 2) ON CONFLICT (a) DO UPDATE SET b = excluded.b RETURNING c',
    written: ['public.t'],
    columns: { 'public.t': ['a', 'b', 'c'] },
  },
  'UPDATE SET targets and FROM sources': {
    sql: 'UPDATE patients p SET ssn = v.x FROM visits v WHERE v.pid = p.id RETURNING p.name',
    read: ['public.patients', 'public.visits'],
    written: ['public.patients'],
    columns: { 'public.patients': ['id', 'name', 'ssn'], 'public.visits': ['pid', 'x'] },
  },
  // A write's target is read when the write reads its columns (red-team round 5, R5-4): PostgreSQL
  // needs SELECT on them, and RETURNING shows them, WHERE tests them. UPDATE, DELETE, MERGE and
  // ON CONFLICT always read it: constraint errors quote the stored rows they touch.
  'INSERT VALUES does not read its target': { sql: "INSERT INTO t (a, b) VALUES (1, 'x' || now()::text)", read: [], written: ['public.t'] },
  'INSERT ... SELECT reads its source only': { sql: 'INSERT INTO t (a) SELECT a FROM u', read: ['public.u'], written: ['public.t'] },
  'INSERT RETURNING reads the target': { sql: 'INSERT INTO t (a) VALUES (1) RETURNING b', read: ['public.t'], written: ['public.t'] },
  'INSERT ON CONFLICT (c) DO NOTHING reads c': { sql: 'INSERT INTO t (a, c) VALUES (1, 2) ON CONFLICT (c) DO NOTHING', read: ['public.t'], columns: { 'public.t': ['a', 'c'] } },
  'UPDATE with no WHERE reads the target': { sql: 'UPDATE s.t SET a = 1', read: ['s.t'], written: ['s.t'] },
  'DELETE with no WHERE reads the target': { sql: 'DELETE FROM t', read: ['public.t'], written: ['public.t'] },
  'DELETE RETURNING a whole row reads the target': { sql: 'DELETE FROM t x RETURNING x', read: ['public.t'], columns: { 'public.t': ['*', 'x'] } },
  'a write in a CTE reads its target': { sql: 'WITH u AS (UPDATE t SET a = b RETURNING 1) SELECT 1', read: ['public.t'], written: ['public.t'] },
  'UPDATE RETURNING old/new (PostgreSQL 18)': { sql: 'UPDATE t SET a = 1 RETURNING old.b, new.c', columns: { 'public.t': ['a', 'b', 'c'] } },
  'RETURNING WITH (OLD AS o) aliases the target': { sql: 'UPDATE t SET a = 1 RETURNING WITH (OLD AS o) o.b', columns: { 'public.t': ['a', 'b'] } },
  'DELETE USING': {
    sql: 'DELETE FROM patients USING visits WHERE visits.pid = patients.id',
    read: ['public.patients', 'public.visits'],
    written: ['public.patients'],
    columns: { 'public.patients': ['id'], 'public.visits': ['pid'] },
  },
  MERGE: {
    sql: 'MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET a = s.a WHEN NOT MATCHED THEN INSERT (id, a) VALUES (s.id, s.a)',
    read: ['public.s', 'public.t'],
    written: ['public.t'],
    columns: { 'public.t': ['a', 'id'], 'public.s': ['a', 'id'] },
  },
  'MERGE from a subquery': {
    sql: 'MERGE INTO t USING (SELECT id FROM u) s ON t.id = s.id WHEN MATCHED THEN DELETE',
    read: ['public.t', 'public.u'],
    written: ['public.t'],
  },
  'data-modifying CTE': {
    sql: 'WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d',
    kind: 'select',
    read: ['public.t'],
    written: ['public.t'],
    writes: true,
    cteWrites: true,
  },
  // COPY.
  'COPY TO reads every column': { sql: 'COPY patients TO STDOUT', read: ['public.patients'], written: [], columns: { 'public.patients': ['*'] } },
  'COPY FROM writes its column list': { sql: "COPY patients (ssn) FROM '/etc/passwd'", written: ['public.patients'], columns: { 'public.patients': ['ssn'] } },
  'COPY (query) TO reads the query': { sql: "COPY (SELECT ssn FROM patients) TO PROGRAM 'x'", read: ['public.patients'], columns: { 'public.patients': ['ssn'] } },
  // Wrappers: their inner statement's tables.
  'EXPLAIN reads the inner query': { sql: 'EXPLAIN SELECT ssn FROM patients', read: ['public.patients'], columns: { 'public.patients': ['ssn'] } },
  'PREPARE of a write': { sql: 'PREPARE p(int) AS DELETE FROM t WHERE id = $1', written: ['public.t'], columns: { 'public.t': ['id'] } },
  'DECLARE CURSOR reads its query': { sql: 'DECLARE c CURSOR FOR SELECT ssn FROM patients', read: ['public.patients'], columns: { 'public.patients': ['ssn'] } },
  // DDL targets.
  'CREATE TABLE: target written, REFERENCES and LIKE read': {
    sql: 'CREATE TABLE x (id int REFERENCES y (id), LIKE z)',
    written: ['public.x'],
    read: ['public.y', 'public.z'],
  },
  'CREATE TABLE AS': { sql: 'CREATE TABLE x AS SELECT ssn FROM patients', written: ['public.x'], read: ['public.patients'] },
  'SELECT INTO': { sql: 'SELECT ssn INTO x FROM patients', written: ['public.x'], read: ['public.patients'] },
  'CREATE TEMP TABLE is written in pg_temp': { sql: 'CREATE TEMP TABLE x (id int)', written: ['pg_temp.x'], read: [] },
  'CREATE TEMPORARY TABLE AS': { sql: 'CREATE TEMPORARY TABLE x AS SELECT ssn FROM patients', written: ['pg_temp.x'], read: ['public.patients'] },
  'SELECT INTO TEMP': { sql: 'SELECT ssn INTO TEMP x FROM patients', written: ['pg_temp.x'], read: ['public.patients'] },
  'CREATE TEMP VIEW': { sql: 'CREATE TEMP VIEW v AS SELECT 1', written: ['pg_temp.v'], read: [] },
  'CREATE UNLOGGED TABLE is permanent': { sql: 'CREATE UNLOGGED TABLE x (id int)', written: ['public.x'] },
  'later unqualified use of a temp name reports the permanent tables it could denote': {
    sql: 'INSERT INTO x VALUES (1)',
    written: ['public.x'],
  },
  'pg_temp.x names the temporary table': { sql: 'INSERT INTO pg_temp.x VALUES (1)', written: ['pg_temp.x'] },
  'CREATE VIEW reads its definition': { sql: 'CREATE VIEW s.v AS SELECT ssn FROM patients', written: ['s.v'], read: ['public.patients'] },
  'CREATE INDEX ON t': { sql: 'CREATE INDEX i ON patients (ssn)', written: ['public.patients'], read: [] },
  'ALTER TABLE': { sql: 'ALTER TABLE patients ADD COLUMN c int', written: ['public.patients'] },
  'ALTER TABLE ... REFERENCES reads the other table': {
    sql: 'ALTER TABLE visits ADD FOREIGN KEY (pid) REFERENCES patients (id)',
    written: ['public.visits'],
    read: ['public.patients'],
  },
  'DROP TABLE': { sql: 'DROP TABLE a, s.b', written: ['public.a', 's.b'] },
  'DROP FUNCTION names no table': { sql: 'DROP FUNCTION f(int)', written: [], read: [] },
  TRUNCATE: { sql: 'TRUNCATE a, s.b', written: ['public.a', 's.b'] },
  'COMMENT ON COLUMN': { sql: "COMMENT ON COLUMN patients.ssn IS 'x'", written: ['public.patients'], columns: { 'public.patients': ['ssn'] } },
  'GRANT on a table, with column privileges': { sql: 'GRANT SELECT (ssn) ON patients TO bob', written: ['public.patients'], columns: { 'public.patients': ['ssn'] } },
  'VACUUM targets': { sql: 'VACUUM (ANALYZE) patients, s.t', written: ['public.patients', 's.t'] },
  'LOCK in ACCESS SHARE mode reads': { sql: 'LOCK TABLE a IN ACCESS SHARE MODE', read: ['public.a'], written: [] },
  'LOCK in the default mode writes': { sql: 'LOCK a', written: ['public.a'] },
  'CREATE RULE: actions are walked': { sql: 'CREATE RULE r AS ON INSERT TO t DO INSTEAD DELETE FROM u', written: ['public.t', 'public.u'] },
  'CALL: procedure name in functions': { sql: 'CALL s.proc(1, f(2))', functions: ['s.proc', 'f', 'pg_catalog.f'] },
};

describe('tables, columns and functions', () => {
  it.each(Object.entries(cases))('%s', (_name, c) => checkCase(c));
});
