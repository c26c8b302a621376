import { beforeAll, describe, expect, it } from 'vitest';
import { loadModule, parseSync } from 'libpg-query';
import { asNode } from './ast.ts';
import { modeFor } from './target-mode.ts';

function mode(sql: string): string {
  const node = asNode((parseSync(sql) as { stmts: { stmt: unknown }[] }).stmts[0]!.stmt)!;
  return modeFor(node.type, node.body);
}

beforeAll(async () => {
  await loadModule();
});

describe('modeFor', () => {
  it('a LOCK in ACCESS SHARE mode only reads; any stronger lock is a write', () => {
    expect(mode('LOCK TABLE t IN ACCESS SHARE MODE')).toBe('read');
    expect(mode('LOCK TABLE t IN ROW SHARE MODE')).toBe('write');
    expect(mode('LOCK TABLE t')).toBe('write'); // ACCESS EXCLUSIVE
  });

  it.each([
    ['CREATE INDEX i ON t (a)', 'write'],
    ['ALTER TABLE t ADD COLUMN b int', 'write'],
    ['GRANT SELECT ON t TO r', 'write'],
    ['VACUUM t', 'write'],
    ['TRUNCATE t', 'write'],
    ['SELECT * FROM t', 'read'],
    ['EXPLAIN SELECT * FROM t', 'read'],
  ])('%s names its relations to %s', (sql, expected) => {
    expect(mode(sql)).toBe(expected);
  });
});
