import { loadModule, normalizeSync } from 'libpg-query';
import { beforeAll, describe, expect, it } from 'vitest';
import { statementShape } from './statement-shape.ts';

const shape = (sql: string): string => statementShape(normalizeSync(sql));

describe('statementShape', () => {
  beforeAll(async () => {
    await loadModule();
  });

  it('is the same for other literal values, comments and spacing', () => {
    const one = shape("UPDATE clinical.patients SET phone = '555' WHERE id = 1");
    expect(shape("/* reason: x */ UPDATE clinical.patients  SET phone = 'other'\n WHERE id = 2 -- done")).toBe(one);
    expect(shape("UPDATE clinical.patients SET phone = '555' WHERE id = 1;")).toBe(one);
    expect(shape('UPDATE clinical.patients SET phone = $1 WHERE id = $2')).toBe(one);
  });

  it('differs where libpg-query fingerprints agree: list lengths, arrays for constants', () => {
    const one = shape('DELETE FROM t WHERE id = 1');
    expect(shape('DELETE FROM t WHERE id IN (1)')).not.toBe(one);
    expect(shape('DELETE FROM t WHERE id IN (1, 2, 3)')).not.toBe(shape('DELETE FROM t WHERE id IN (1)'));
    expect(shape("DELETE FROM t WHERE id = ANY('{1,2,3}')")).not.toBe(one);
    expect(shape('DELETE FROM t WHERE id = ANY(ARRAY[1, 2])')).not.toBe(shape('DELETE FROM t WHERE id = ANY(ARRAY[1])'));
  });

  it('keeps quoted names whole, comment-like text in them included', () => {
    expect(statementShape('SELECT "a -- b" FROM t')).toBe('SELECT "a -- b" FROM t');
    expect(statementShape('SELECT "a /* b */" FROM t')).not.toBe(statementShape('SELECT "a" FROM t'));
    expect(statementShape('SELECT 1 /* a /* nested */ still */ + 2')).toBe('SELECT 1 + 2');
    expect(statementShape('SELECT 1 -- x\r+ 2')).toBe('SELECT 1 + 2');
  });
});
