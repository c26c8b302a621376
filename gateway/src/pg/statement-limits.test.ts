import { describe, expect, it } from 'vitest';
import { statementLimitError } from './statement-limits.ts';

const limits = (maxStatementsPerQuery: number, maxStatementBytes = 1 << 20) => ({ maxStatementsPerQuery, maxStatementBytes });

describe('statementLimitError', () => {
  it('refuses a simple query with more statements than the limit, naming the key', () => {
    const error = statementLimitError('SELECT 1; SELECT 2; SELECT 3; SELECT 4', 'simple', limits(3));
    expect(error?.sqlstate).toBe('54000');
    expect(error?.message).toContain('limits.max_statements_per_query');
  });

  it('counts the statements of a Parse too (PostgreSQL refuses several, but only after Gatehouse parsed them)', () => {
    expect(statementLimitError('SELECT 1; SELECT 2; SELECT 3; SELECT 4', 'extended', limits(3))?.sqlstate).toBe('54000');
    expect(statementLimitError('SELECT 1; SELECT 2', 'extended', limits(3))).toBeNull();
  });

  it('lets through a query at the limit, short or long', () => {
    expect(statementLimitError('SELECT 1;SELECT 2;SELECT 3', 'simple', limits(3))).toBeNull();
    expect(statementLimitError('S;S', 'simple', limits(3))).toBeNull();
    expect(statementLimitError("SELECT ';;;;;;;;'", 'simple', limits(3))).toBeNull();
  });

  it('refuses a text over the byte limit in both protocols', () => {
    const text = `SELECT '${'é'.repeat(600)}'`;
    expect(statementLimitError(text, 'extended', limits(1000, 1000))?.message).toContain('limits.max_statement_bytes');
    expect(statementLimitError(text, 'simple', limits(1000, 1000))?.sqlstate).toBe('54000');
  });
});
