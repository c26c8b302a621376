import { parseSync } from 'libpg-query';
import { beforeAll, describe, expect, it } from 'vitest';
import { asNode, type AstBody } from '../sql/ast.ts';
import { loadSqlParser } from '../sql/parser.ts';
import { assignedColumns, type WriteKind } from './write-assignments.ts';

beforeAll(async () => {
  await loadSqlParser();
});

const COLUMNS = ['id', 'mrn', 'ssn', 'phone'];

function assigned(sql: string): string[] {
  const node = asNode((parseSync(sql) as { stmts: Array<{ stmt: unknown }> }).stmts[0]!.stmt)!;
  return [...assignedColumns(node.type as WriteKind, node.body as AstBody, COLUMNS)].sort();
}

describe('assignedColumns', () => {
  it("reads an INSERT's column list, or the leading columns its rows fill by position", () => {
    expect(assigned("INSERT INTO t (phone, id) VALUES ('1', 2)")).toEqual(['id', 'phone']);
    expect(assigned("INSERT INTO t VALUES (1, 'm')")).toEqual(['id', 'mrn']);
    expect(assigned("INSERT INTO t VALUES (1), (2, 'm', 's')")).toEqual(['id', 'mrn', 'ssn']);
    expect(assigned('INSERT INTO t SELECT 1, 2')).toEqual(['id', 'mrn']);
    expect(assigned('INSERT INTO t DEFAULT VALUES')).toEqual([]);
  });

  it('counts every column when the width cannot be told from the text', () => {
    expect(assigned('INSERT INTO t SELECT * FROM s')).toEqual(['*']);
    expect(assigned('INSERT INTO t SELECT s.* FROM s')).toEqual(['*']);
    expect(assigned('INSERT INTO t SELECT 1 UNION SELECT 2')).toEqual(['*']);
    // A composite expanded with `(row).*` fills as many columns as the row type has (R10-3).
    expect(assigned("INSERT INTO t VALUES ((ROW(2, 'x')::t).*)")).toEqual(['*']);
    expect(assigned("INSERT INTO t VALUES (1), ((ROW(2, 'x')::t).*)")).toEqual(['*']);
    expect(assigned('INSERT INTO t SELECT (r).* FROM s')).toEqual(['*']);
    expect(assigned("MERGE INTO t USING s ON t.id = s.id WHEN NOT MATCHED THEN INSERT VALUES ((ROW(2, 'x')::t).*)")).toEqual(['*']);
  });

  it("reads SET of UPDATE and of ON CONFLICT DO UPDATE, with subscripts, fields and multiple assignment", () => {
    expect(assigned("UPDATE t SET phone = '1', ssn[1] = 'x' WHERE id = 1")).toEqual(['phone', 'ssn']);
    expect(assigned("UPDATE t SET (mrn, phone) = ('a', 'b')")).toEqual(['mrn', 'phone']);
    expect(assigned("INSERT INTO t (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET mrn = 'x'")).toEqual(['id', 'mrn']);
    expect(assigned('INSERT INTO t (id) VALUES (1) ON CONFLICT DO NOTHING')).toEqual(['id']);
  });

  it("reads MERGE's INSERT and UPDATE actions; DELETE assigns nothing", () => {
    expect(assigned("MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET phone = s.p WHEN NOT MATCHED THEN INSERT (id, mrn) VALUES (s.id, s.m)")).toEqual(['id', 'mrn', 'phone']);
    expect(assigned('MERGE INTO t USING s ON t.id = s.id WHEN NOT MATCHED THEN INSERT VALUES (s.id, s.m, s.s)')).toEqual(['id', 'mrn', 'ssn']);
    expect(assigned('MERGE INTO t USING s ON t.id = s.id WHEN NOT MATCHED THEN INSERT DEFAULT VALUES WHEN MATCHED THEN DELETE')).toEqual([]);
    expect(assigned('DELETE FROM t WHERE ssn = 1')).toEqual([]);
  });
});
