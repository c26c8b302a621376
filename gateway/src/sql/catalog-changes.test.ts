import { beforeAll, describe, expect, it } from 'vitest';
import { analyzeQuery, loadSqlParser } from './parser.ts';
import { changesCatalog } from './catalog-changes.ts';

beforeAll(async () => {
  await loadSqlParser();
});

function changes(sql: string): boolean {
  const parsed = analyzeQuery(sql);
  if (!parsed.ok) throw new Error(`unparsable: ${sql}`);
  return changesCatalog(parsed.statements[0]!.facts);
}

describe('changesCatalog', () => {
  it.each([
    'CREATE VIEW v AS SELECT 1',
    'CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$',
    'ALTER TABLE t ADD COLUMN c int',
    'DROP TABLE t',
    'CREATE UNIQUE INDEX i ON t (c)',
    'CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()',
    'ALTER TABLE t DISABLE TRIGGER tr',
    'CREATE TYPE ty AS (a int)',
    'SELECT 1 INTO x',
    'GRANT SELECT ON t TO r',
    "DO $$ BEGIN EXECUTE 'CREATE TABLE x (a int)'; END $$",
    'CALL p()',
    "COMMIT PREPARED 'x'",
    'EXPLAIN ANALYZE CREATE TABLE x AS SELECT 1',
  ])('%s: yes', (sql) => {
    expect(changes(sql)).toBe(true);
  });

  it.each(['SELECT * FROM t', 'INSERT INTO t VALUES (1)', 'TRUNCATE t', "COMMENT ON TABLE t IS 'x'", 'REFRESH MATERIALIZED VIEW mv', 'BEGIN', 'SET x = 1', 'EXPLAIN SELECT 1'])(
    '%s: no',
    (sql) => {
      expect(changes(sql)).toBe(false);
    },
  );
});
