import { beforeAll, describe, expect, it } from 'vitest';
import { analyzeCacheStats, loadSqlParser } from '../sql/parser.ts';
import { duplicateNameRefusal } from './duplicate-name.ts';

beforeAll(async () => {
  await loadSqlParser();
});

const limits = { maxStatementBytes: 1 << 20, maxStatementsPerQuery: 1000 };
const inUse = new Map([['s', null]]);

describe('duplicateNameRefusal: what PostgreSQL reports before the name (R18c-2)', () => {
  it('refuses one statement, or none, under a name in use (42P05)', () => {
    expect(duplicateNameRefusal('s', 'SELECT 1', inUse, limits)?.sqlstate).toBe('42P05');
    expect(duplicateNameRefusal('s', '', inUse, limits)?.sqlstate).toBe('42P05');
  });

  it('leaves to the decision point a syntax error, several statements and a text over the limits, analysing nothing', () => {
    const before = analyzeCacheStats();
    expect(duplicateNameRefusal('s', 'SELEC 1', inUse, limits)).toBeNull();
    expect(duplicateNameRefusal('s', 'SELECT 1; SELECT 2', inUse, limits)).toBeNull();
    expect(duplicateNameRefusal('s', Array.from({ length: 1001 }, () => 'SELECT 1').join(';'), inUse, limits)).toBeNull();
    expect(analyzeCacheStats().misses).toBe(before.misses);
  });

  it('a free name, or the unnamed statement, is not refused', () => {
    expect(duplicateNameRefusal('t', 'SELECT 1', inUse, limits)).toBeNull();
    expect(duplicateNameRefusal('', 'SELECT 1', new Map([['', null]]), limits)).toBeNull();
  });
});
