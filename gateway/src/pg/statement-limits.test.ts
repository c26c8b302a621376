import { describe, expect, it } from 'vitest';
import { oversizedText, oversizedTextKeep, statementLimitError } from './statement-limits.ts';

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

describe('oversizedTextKeep and oversizedText', () => {
  const keep = oversizedTextKeep(limits(1000, 1 << 20));
  it('cuts a Query whose text is over the limit, and a Parse only when its text is over it whatever its name and parameter types', () => {
    expect(keep(0x51, (1 << 20) + 5)).toBeNull(); // text of exactly the limit, and its NUL
    expect(keep(0x51, (1 << 20) + 6)).toBe(4096);
    expect(keep(0x50, (1 << 20) + 266_000)).toBeNull(); // its name may take the 4,096 bytes kept, its parameter types 262,140
    expect(keep(0x50, (1 << 20) + 267_000)).toBe(4096);
    expect(keep(0x50, 10 << 20)).toBe(4096);
    expect(keep(0x42, 10 << 20)).toBeNull(); // a Bind carries values, not SQL
  });

  it('reads a cut Parse: its name, the start of its text, and a lower bound of the text size', () => {
    const body = Buffer.from(`s1\0SELECT '${'x'.repeat(5000)}`).subarray(0, 4096);
    const cut = oversizedText({ type: 0x50, body }, 10 << 20, limits(1000, 1 << 20));
    expect(cut.protocol).toBe('extended');
    expect(cut.protocol === 'extended' && cut.name).toBe('s1');
    expect(cut.head.startsWith("SELECT 'xxx")).toBe(true);
    expect(cut.error.sqlstate).toBe('54000');
    expect(cut.error.message).toContain(`at least ${(10 << 20) - 4 - 3 - (1 + 2 + 4 * 65_535)} bytes`);
  });

  it('refuses a cut Parse whose statement name does not end within the bytes kept as a protocol violation', () => {
    expect(() => oversizedText({ type: 0x50, body: Buffer.alloc(4096, 0x61) }, 10 << 20, limits(1000, 1 << 20))).toThrow(/statement name longer than 4096 bytes/);
  });
});
