import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor, newestFirst, pageOf, parsePageSize } from './keyset.ts';

const cursor = { createdAt: '2026-12-05T06:00:00.123Z', id: '3f0c1a2b-0000-4000-8000-00000000abcd' };

describe('keyset paging', () => {
  it('a cursor goes through its opaque form unchanged, URL-safe', () => {
    const text = encodeCursor(cursor);
    expect(text).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(text)).toEqual({ kind: 'cursor', cursor });
    // An upper-case id means the same row.
    expect(decodeCursor(encodeCursor({ ...cursor, id: cursor.id.toUpperCase() }))).toEqual({ kind: 'cursor', cursor });
  });

  it('refuses what no page returned: garbage, other JSON, bad times and ids', () => {
    const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    for (const bad of [
      '',
      'not a cursor!',
      'x'.repeat(300),
      Buffer.from('{"a":1').toString('base64url'),
      enc({ createdAt: cursor.createdAt, id: cursor.id }),
      enc([cursor.createdAt]),
      enc([cursor.createdAt, cursor.id, 1]),
      enc(['2026-12-05', cursor.id]),
      enc(['2026-02-30T06:00:00.000Z', cursor.id]),
      enc(['2026-12-05T06:00:00.000+01:00', cursor.id]),
      enc([cursor.createdAt, 'not-a-uuid']),
      enc([cursor.createdAt, "'; DROP TABLE x; --"]),
      enc([1, cursor.id]),
    ]) {
      expect(decodeCursor(bad), bad).toMatchObject({ kind: 'malformed', why: expect.stringMatching(/next/) });
    }
  });

  it('page size: 50 by default, 1 to 500, whole numbers only', () => {
    expect(parsePageSize(null)).toEqual({ kind: 'size', size: 50 });
    expect(parsePageSize('1')).toEqual({ kind: 'size', size: 1 });
    expect(parsePageSize('500')).toEqual({ kind: 'size', size: 500 });
    for (const bad of ['0', '501', '-1', '2.5', '1e2', '', ' 5', 'ten', '99999']) expect(parsePageSize(bad), bad).toMatchObject({ kind: 'malformed' });
  });

  it('the extra row says another page exists; the cursor is the last row shown', () => {
    const rows = ['d', 'c', 'b'].map((id) => ({ id, createdAt: cursor.createdAt }));
    expect(pageOf(rows, 3)).toEqual({ items: rows, next: null });
    expect(pageOf(rows, 2)).toEqual({ items: rows.slice(0, 2), next: { createdAt: cursor.createdAt, id: 'c' } });
    expect([...rows].reverse().sort(newestFirst).map((r) => r.id)).toEqual(['d', 'c', 'b']);
  });
});
