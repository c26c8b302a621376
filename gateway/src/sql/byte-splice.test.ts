import { describe, expect, it } from 'vitest';
import { spliceBytes } from './byte-splice.ts';

describe('spliceBytes', () => {
  it('counts offsets in UTF-8 bytes, as the parser does', () => {
    // "é" is two bytes: byte 12 is the end of 'café' (after the closing quote at byte 11).
    const q = "SELECT 'café' FROM t";
    expect(spliceBytes(q, [{ start: 14, end: 14, text: ', 1' }])).toBe("SELECT 'café', 1 FROM t");
  });

  it('replaces ranges, in offset order whatever the order given', () => {
    const q = 'SELECT a FROM t JOIN u ON true';
    expect(
      spliceBytes(q, [
        { start: 21, end: 22, text: 'x.u' },
        { start: 14, end: 15, text: 's.t' },
      ]),
    ).toBe('SELECT a FROM s.t JOIN x.u ON true');
  });

  it('refuses overlapping splices', () => {
    expect(spliceBytes('SELECT a FROM t', [{ start: 7, end: 15, text: '1' }, { start: 14, end: 15, text: 'u' }])).toBeNull();
  });

  it('leaves a query without splices as it is', () => {
    expect(spliceBytes('SELECT 1', [])).toBe('SELECT 1');
  });
});
