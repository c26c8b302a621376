import { beforeAll, describe, expect, it } from 'vitest';
import { onlyFacts } from './facts-case-support.ts';
import { loadSqlParser } from './parser.ts';

beforeAll(loadSqlParser);

const locking: Record<string, string> = {
  'FOR UPDATE': 'SELECT * FROM t WHERE id = 1 FOR UPDATE',
  'FOR NO KEY UPDATE': 'SELECT * FROM t FOR NO KEY UPDATE',
  'FOR SHARE': 'SELECT * FROM t FOR SHARE',
  'FOR KEY SHARE': 'SELECT * FROM t FOR KEY SHARE',
  'FOR UPDATE OF a table, NOWAIT': 'SELECT * FROM t JOIN u ON t.id = u.id FOR UPDATE OF t NOWAIT',
  'FOR UPDATE SKIP LOCKED': 'SELECT * FROM t LIMIT 1 FOR UPDATE SKIP LOCKED',
  'in a subquery': 'SELECT * FROM (SELECT * FROM t FOR UPDATE) s',
  'in a scalar subquery': 'SELECT (SELECT a FROM t WHERE id = 1 FOR SHARE)',
  'in a WHERE subquery': 'SELECT 1 WHERE EXISTS (SELECT 1 FROM t FOR KEY SHARE)',
  'in a WITH query': 'WITH a AS (SELECT * FROM t FOR UPDATE) SELECT * FROM a',
  'in a WITH of a write': 'WITH a AS (SELECT id FROM t FOR UPDATE) UPDATE u SET x = 1 WHERE id IN (SELECT id FROM a)',
  'in an INSERT ... SELECT': 'INSERT INTO u SELECT * FROM t FOR UPDATE',
  'in a set operation arm': 'SELECT 1 UNION ALL (SELECT a FROM t FOR UPDATE)',
  'EXPLAIN ANALYZE': 'EXPLAIN ANALYZE SELECT * FROM t FOR UPDATE',
  'plain EXPLAIN (the text is judged)': 'EXPLAIN SELECT * FROM t FOR UPDATE',
  'PREPARE': 'PREPARE p AS SELECT * FROM t WHERE id = $1 FOR UPDATE',
  'DECLARE CURSOR': 'DECLARE c CURSOR FOR SELECT * FROM t FOR UPDATE',
  'COPY (query) TO': 'COPY (SELECT * FROM t FOR UPDATE) TO STDOUT',
  'BEGIN ATOMIC body': 'CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1 FROM t FOR UPDATE; END',
};

const notLocking: Record<string, string> = {
  SELECT: 'SELECT * FROM t WHERE id = 1',
  'UPDATE (its own row locks are a write)': 'UPDATE t SET a = 1 WHERE id = 1',
  'LOCK TABLE (kind lock)': 'LOCK TABLE t IN SHARE MODE',
  'a column named like a clause': 'SELECT "update", share FROM t',
  'DECLARE CURSOR without FOR UPDATE': 'DECLARE c CURSOR FOR SELECT * FROM t',
  BEGIN: 'BEGIN',
};

describe('statement.locks_rows', () => {
  it.each(Object.entries(locking))('%s: locks rows', (_name, sql) => {
    expect(onlyFacts(sql).locksRows).toBe(true);
  });
  it.each(Object.entries(notLocking))('%s: takes no row lock', (_name, sql) => {
    expect(onlyFacts(sql).locksRows).toBe(false);
  });
});
