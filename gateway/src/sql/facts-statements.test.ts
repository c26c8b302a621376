import { beforeAll, describe, it } from 'vitest';
import { checkCase, type FactsCase } from './facts-case-support.ts';
import { loadSqlParser } from './parser.ts';

beforeAll(loadSqlParser);

const cases: Record<string, FactsCase> = {
  SELECT: { sql: 'SELECT 1', kind: 'select', command: 'SelectStmt', writes: false, hasWhere: false, hasLimit: false },
  'SELECT with WHERE and LIMIT': { sql: 'SELECT * FROM t WHERE a = 1 LIMIT 5', hasWhere: true, hasLimit: true },
  'FETCH FIRST is a limit': { sql: 'SELECT * FROM t FETCH FIRST 3 ROWS ONLY', hasLimit: true },
  'LIMIT ALL is no limit': { sql: 'SELECT * FROM t LIMIT ALL', hasLimit: false },
  'WHERE only in a subquery is not a top-level WHERE': { sql: 'SELECT * FROM (SELECT * FROM t WHERE a = 1) s', hasWhere: false },
  'TABLE t': { sql: 'TABLE patients', kind: 'select', read: ['public.patients'] },
  VALUES: { sql: 'VALUES (1), (2)', kind: 'select', read: [] },
  INSERT: { sql: 'INSERT INTO t VALUES (1)', kind: 'insert', command: 'InsertStmt', writes: true },
  'UPDATE without WHERE': { sql: "UPDATE patients SET ssn = 'x'", kind: 'update', hasWhere: false, writes: true, columns: { 'public.patients': ['ssn'] } },
  'UPDATE with WHERE': { sql: "UPDATE patients SET ssn = 'x' WHERE id = 1", hasWhere: true },
  'DELETE without WHERE': { sql: 'DELETE FROM t', kind: 'delete', hasWhere: false, writes: true },
  MERGE: { sql: 'MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE', kind: 'merge', command: 'MergeStmt', writes: true },
  'data-modifying CTE': { sql: 'WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d', kind: 'select', writes: true, cteWrites: true },
  'read-only CTE': { sql: 'WITH d AS (SELECT 1) SELECT * FROM d', writes: false, cteWrites: false },
  'data-modifying CTE under INSERT': { sql: 'WITH d AS (UPDATE t SET a = 1 RETURNING a) INSERT INTO u SELECT a FROM d', kind: 'insert', cteWrites: true, written: ['public.t', 'public.u'] },
  // COPY.
  'COPY TO STDOUT': { sql: 'COPY patients TO STDOUT', kind: 'copy', writes: false, copy: { direction: 'to', endpoint: 'stdio', query: false } },
  'COPY FROM a server file': { sql: "COPY patients FROM '/etc/passwd'", writes: true, copy: { direction: 'from', endpoint: 'file', query: false } },
  'COPY FROM STDIN': { sql: 'COPY patients FROM STDIN', copy: { direction: 'from', endpoint: 'stdio', query: false } },
  'COPY (DELETE ... RETURNING) TO STDOUT writes': { sql: 'COPY (DELETE FROM t WHERE a = 1 RETURNING a) TO STDOUT', writes: true, written: ['public.t'] },
  'COPY (SELECT) TO STDOUT does not write': { sql: 'COPY (SELECT a FROM t) TO STDOUT', writes: false },
  'COPY (query) TO PROGRAM': { sql: "COPY (SELECT 1 FROM t) TO PROGRAM 'x'", copy: { direction: 'to', endpoint: 'program', query: true } },
  'COPY TO a server file': { sql: "COPY patients TO '/tmp/x'", copy: { direction: 'to', endpoint: 'file', query: false } },
  // EXPLAIN.
  EXPLAIN: { sql: 'EXPLAIN SELECT * FROM t LIMIT 1', kind: 'explain', innerKind: 'select', explainAnalyze: false, writes: false, hasLimit: true },
  'EXPLAIN of a write does not write': { sql: 'EXPLAIN DELETE FROM t', innerKind: 'delete', explainAnalyze: false, writes: false, written: ['public.t'] },
  'EXPLAIN ANALYZE of a write': {
    sql: 'EXPLAIN ANALYZE DELETE FROM patients',
    kind: 'explain',
    innerKind: 'delete',
    explainAnalyze: true,
    writes: true,
    hasWhere: false,
    written: ['public.patients'],
  },
  'EXPLAIN (ANALYZE, FORMAT JSON)': { sql: 'EXPLAIN (ANALYZE, FORMAT JSON) UPDATE t SET a = 1 WHERE b = 2', explainAnalyze: true, writes: true, hasWhere: true },
  'EXPLAIN (ANALYZE true)': { sql: 'EXPLAIN (ANALYZE true) SELECT 1', explainAnalyze: true, writes: false },
  'EXPLAIN (ANALYZE off)': { sql: 'EXPLAIN (ANALYZE off) DELETE FROM t', explainAnalyze: false, writes: false },
  'EXPLAIN ANALYZE of a data-modifying CTE': { sql: 'EXPLAIN ANALYZE WITH d AS (DELETE FROM t RETURNING 1) SELECT * FROM d', writes: true, cteWrites: true },
  'EXPLAIN ANALYZE CREATE TABLE AS': { sql: 'EXPLAIN ANALYZE CREATE TABLE x AS SELECT 1', innerKind: 'ddl', writes: true, written: ['public.x'] },
  // Prepared statements and cursors.
  PREPARE: { sql: 'PREPARE q AS SELECT ssn FROM patients', kind: 'prepare', innerKind: 'select', preparedName: 'q', writes: false, read: ['public.patients'] },
  'PREPARE of a write counts as a write': { sql: 'PREPARE p(int) AS DELETE FROM t WHERE id = $1', innerKind: 'delete', writes: true, hasWhere: true },
  EXECUTE: { sql: 'EXECUTE p(1)', kind: 'execute', preparedName: 'p', innerKind: null },
  DEALLOCATE: { sql: 'DEALLOCATE p', kind: 'deallocate', preparedName: 'p' },
  'DEALLOCATE ALL': { sql: 'DEALLOCATE ALL', kind: 'deallocate', preparedName: null },
  'DECLARE CURSOR': { sql: 'DECLARE c CURSOR FOR SELECT ssn FROM patients', kind: 'cursor', command: 'DeclareCursorStmt', read: ['public.patients'], writes: false },
  FETCH: { sql: 'FETCH 10 FROM c', kind: 'cursor', command: 'FetchStmt' },
  MOVE: { sql: 'MOVE c', kind: 'cursor' },
  CLOSE: { sql: 'CLOSE c', kind: 'cursor', command: 'ClosePortalStmt' },
  // Session.
  'SET search_path': { sql: 'SET search_path = x', kind: 'set', setting: 'search_path', writes: false },
  'SET LOCAL': { sql: 'SET LOCAL statement_timeout = 5', setting: 'statement_timeout' },
  'SET ROLE': { sql: 'SET ROLE admin', kind: 'set', setting: 'role' },
  'SET SESSION AUTHORIZATION': { sql: 'SET SESSION AUTHORIZATION bob', setting: 'session_authorization' },
  'RESET ROLE': { sql: 'RESET ROLE', kind: 'set', setting: 'role' },
  'RESET ALL': { sql: 'RESET ALL', setting: 'all' },
  'SET TRANSACTION': { sql: 'SET TRANSACTION ISOLATION LEVEL SERIALIZABLE', kind: 'set', setting: 'transaction' },
  SHOW: { sql: 'SHOW search_path', kind: 'show', setting: null },
  BEGIN: { sql: 'BEGIN', kind: 'transaction', command: 'TransactionStmt', writes: false },
  COMMIT: { sql: 'COMMIT', kind: 'transaction' },
  'ROLLBACK TO SAVEPOINT': { sql: 'ROLLBACK TO SAVEPOINT s', kind: 'transaction' },
  LISTEN: { sql: 'LISTEN x', kind: 'listen', command: 'ListenStmt' },
  NOTIFY: { sql: "NOTIFY x, 'y'", kind: 'listen' },
  UNLISTEN: { sql: 'UNLISTEN *', kind: 'listen' },
  'DISCARD ALL': { sql: 'DISCARD ALL', kind: 'discard' },
  // Privileges and roles.
  GRANT: { sql: 'GRANT SELECT ON patients TO bob', kind: 'grant', command: 'GrantStmt', writes: true },
  REVOKE: { sql: 'REVOKE ALL ON ALL TABLES IN SCHEMA public FROM bob', kind: 'grant' },
  'GRANT role': { sql: 'GRANT admin TO bob', kind: 'grant', command: 'GrantRoleStmt' },
  'CREATE ROLE': { sql: 'CREATE ROLE bob LOGIN SUPERUSER', kind: 'grant', command: 'CreateRoleStmt', writes: true },
  'ALTER ROLE': { sql: 'ALTER ROLE bob SUPERUSER', kind: 'grant' },
  'DROP ROLE': { sql: 'DROP ROLE bob', kind: 'grant' },
  // DDL.
  'CREATE TABLE': { sql: 'CREATE TABLE t (id int)', kind: 'ddl', command: 'CreateStmt', writes: true },
  'SELECT INTO is DDL': { sql: 'SELECT 1 INTO x', kind: 'ddl', command: 'SelectStmt', writes: true },
  TRUNCATE: { sql: 'TRUNCATE t', kind: 'ddl', writes: true },
  'CREATE FUNCTION': { sql: 'CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$', kind: 'ddl' },
  'CREATE DATABASE': { sql: 'CREATE DATABASE d', kind: 'ddl', command: 'CreatedbStmt' },
  'COMMENT ON': { sql: "COMMENT ON TABLE t IS 'x'", kind: 'ddl', written: ['public.t'] },
  'REFRESH MATERIALIZED VIEW': { sql: 'REFRESH MATERIALIZED VIEW mv', kind: 'ddl', written: ['public.mv'] },
  // Maintenance, locks, procedural.
  VACUUM: { sql: 'VACUUM', kind: 'vacuum', command: 'VacuumStmt', writes: false },
  ANALYZE: { sql: 'ANALYZE t', kind: 'vacuum' },
  CLUSTER: { sql: 'CLUSTER t USING i', kind: 'vacuum' },
  REINDEX: { sql: 'REINDEX TABLE t', kind: 'vacuum' },
  LOCK: { sql: 'LOCK TABLE t', kind: 'lock', command: 'LockStmt', writes: false },
  DO: { sql: 'DO $$ BEGIN DELETE FROM t; END $$', kind: 'do', command: 'DoStmt', writes: true },
  CALL: { sql: 'CALL proc(1)', kind: 'call', command: 'CallStmt', functions: ['proc', 'pg_catalog.proc'], writes: true },
  'ALTER SYSTEM is other': { sql: 'ALTER SYSTEM SET work_mem = 1', kind: 'other', writes: true },
  'LOAD is other': { sql: "LOAD 'x'", kind: 'other', command: 'LoadStmt' },
  CHECKPOINT: { sql: 'CHECKPOINT', kind: 'other' },
};

describe('statement kinds and flags', () => {
  it.each(Object.entries(cases))('%s', (_name, c) => checkCase(c));
});
