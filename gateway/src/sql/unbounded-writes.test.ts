import { beforeAll, describe, expect, it } from 'vitest';
import { onlyFacts } from './facts-case-support.ts';
import { loadSqlParser } from './parser.ts';

beforeAll(loadSqlParser);

const unbounded: Record<string, string> = {
  'UPDATE without WHERE': "UPDATE t SET a = 'x'",
  'DELETE without WHERE': 'DELETE FROM t',
  'DELETE ... USING without WHERE': 'DELETE FROM t USING u',
  'UPDATE ... FROM without WHERE': 'UPDATE t SET a = u.a FROM u',
  TRUNCATE: 'TRUNCATE t',
  'EXPLAIN ANALYZE DELETE': 'EXPLAIN ANALYZE DELETE FROM t',
  'EXPLAIN (ANALYZE) UPDATE': 'EXPLAIN (ANALYZE, BUFFERS) UPDATE t SET a = 1',
  'plain EXPLAIN DELETE (the text is judged)': 'EXPLAIN DELETE FROM t',
  'DELETE in a WITH': 'WITH d AS (DELETE FROM t RETURNING 1) SELECT count(*) FROM d',
  'UPDATE in a WITH under INSERT': 'WITH d AS (UPDATE t SET a = 1 RETURNING a) INSERT INTO u SELECT a FROM d',
  'DELETE in a nested WITH': 'WITH a AS (WITH b AS (DELETE FROM t RETURNING 1) SELECT * FROM b) SELECT * FROM a',
  'DELETE in a WITH of a bounded DELETE': 'WITH d AS (DELETE FROM t RETURNING 1) DELETE FROM u WHERE id IN (SELECT 1 FROM d)',
  'DELETE in a WITH under MERGE': 'WITH d AS (DELETE FROM t RETURNING id) MERGE INTO u USING d ON u.id = d.id WHEN MATCHED THEN DELETE',
  'COPY (DELETE) TO STDOUT': 'COPY (DELETE FROM t RETURNING x) TO STDOUT',
  'COPY (UPDATE) TO STDOUT': 'COPY (UPDATE t SET a = 1 RETURNING a) TO STDOUT',
  'PREPARE ... AS DELETE': 'PREPARE p AS DELETE FROM t',
  'EXPLAIN ANALYZE of a WITH': 'EXPLAIN ANALYZE WITH d AS (DELETE FROM t RETURNING 1) SELECT 1',
  'CREATE RULE ... DO DELETE': 'CREATE RULE r AS ON INSERT TO u DO ALSO DELETE FROM t',
  'BEGIN ATOMIC body': 'CREATE FUNCTION f() RETURNS void LANGUAGE sql BEGIN ATOMIC DELETE FROM t; END',
};

const bounded: Record<string, string> = {
  SELECT: 'SELECT * FROM t',
  INSERT: 'INSERT INTO t VALUES (1)',
  'UPDATE with WHERE': "UPDATE t SET a = 'x' WHERE id = 1",
  'DELETE with WHERE': 'DELETE FROM t WHERE id = 1',
  'DELETE WHERE CURRENT OF': 'DELETE FROM t WHERE CURRENT OF c',
  'UPDATE WHERE CURRENT OF': 'UPDATE t SET a = 1 WHERE CURRENT OF c',
  'a WHERE that is always true is still a WHERE': 'DELETE FROM t WHERE true',
  'EXPLAIN ANALYZE bounded DELETE': 'EXPLAIN ANALYZE DELETE FROM t WHERE id = 1',
  'bounded DELETE in a WITH': 'WITH d AS (DELETE FROM t WHERE id = 1 RETURNING 1) SELECT * FROM d',
  'COPY (bounded DELETE) TO STDOUT': 'COPY (DELETE FROM t WHERE id = 1 RETURNING x) TO STDOUT',
  'PREPARE ... AS bounded UPDATE': 'PREPARE p AS UPDATE t SET a = $1 WHERE id = $2',
  'MERGE (bounded by ON)': 'MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE WHEN NOT MATCHED THEN INSERT VALUES (s.id)',
  'INSERT ... ON CONFLICT DO UPDATE': 'INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET a = 2',
  'COPY FROM STDIN': 'COPY t FROM STDIN',
  'a WHERE only in a subquery of the UPDATE does not count, the UPDATE is bounded by its own':
    'UPDATE t SET a = 1 WHERE id IN (SELECT id FROM u)',
  'DROP TABLE is not a write to rows': 'DROP TABLE t',
};

describe('statement.unbounded_writes', () => {
  it.each(Object.entries(unbounded))('%s: unbounded', (_name, sql) => {
    expect(onlyFacts(sql).unboundedWrites).toBe(true);
  });
  it.each(Object.entries(bounded))('%s: bounded', (_name, sql) => {
    expect(onlyFacts(sql).unboundedWrites).toBe(false);
  });
  it('a DELETE without WHERE in a subquery of a bounded UPDATE is found', () => {
    expect(onlyFacts('WITH x AS (DELETE FROM t RETURNING id) UPDATE u SET a = 1 WHERE id IN (SELECT id FROM x)').unboundedWrites).toBe(true);
  });
});
