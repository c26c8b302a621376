import { beforeAll, describe, expect, it } from 'vitest';
import { loadModule, normalizeSync } from 'libpg-query';
import { quickShape } from './quick-shape.ts';

beforeAll(() => loadModule());

describe('quickShape', () => {
  it('replaces the literals compared in a short query, in a key space of its own', () => {
    expect(quickShape('SELECT abalance FROM pgbench_accounts WHERE aid = 12345;')).toBe('\u0000SELECT abalance FROM pgbench_accounts WHERE aid = $1;');
    expect(quickShape("select * from t where a<>'x''y' and b >= 2.5 and c != .5 and d<=7")).toBe("\u0000select * from t where a<>$1 and b >= $2 and c != $3 and d<=$4");
    expect(quickShape("UPDATE t SET a = 'v' WHERE id = 3")).toBe('\u0000UPDATE t SET a = $1 WHERE id = $2');
    expect(quickShape("SELECT * FROM t WHERE a = 'é😀 -- /* \" $'")).toBe('\u0000SELECT * FROM t WHERE a = $1');
  });

  it('leaves other literals as they are', () => {
    expect(quickShape("SELECT f(1, 'a') FROM t WHERE x = 2 LIMIT 5 OFFSET 1")).toBe("\u0000SELECT f(1, 'a') FROM t WHERE x = $1 LIMIT 5 OFFSET 1");
    expect(quickShape('SELECT * FROM t1 WHERE a = -5 AND b = +2 AND c = 3')).toBe('\u0000SELECT * FROM t1 WHERE a = -5 AND b = +2 AND c = $1');
  });

  it.each([
    ['no compared literal', 'SELECT 1'],
    ['not a query', "SET search_path = 'x'"],
    ['a utility statement', "NOTIFY c, 'p'"],
    ['a comment', 'SELECT * FROM t WHERE a = 1 -- x'],
    ['a block comment', 'SELECT * FROM t WHERE a = 1 /* x */'],
    ['a quoted name', 'SELECT * FROM "t" WHERE a = 1'],
    ['a dollar', 'SELECT * FROM t WHERE a = $1'],
    ['an escape string', "SELECT * FROM t WHERE a = E'x'"],
    ['a bit string', "SELECT * FROM t WHERE a = B'1'"],
    ['a unicode string', "SELECT * FROM t WHERE a = U&'x'"],
    ['a backslash', "SELECT * FROM t WHERE a = 'x\\'"],
    ['string continuation', "SELECT * FROM t WHERE a = 'x'\n'y'"],
    ['an exponent', 'SELECT * FROM t WHERE a = 1e5'],
    ['a hexadecimal integer', 'SELECT * FROM t WHERE a = 0x1F'],
    ['an underscore in a number', 'SELECT * FROM t WHERE a = 1_000'],
    ['two statements', 'SELECT * FROM t WHERE a = 1; SELECT 2'],
    ['a non-ASCII name', 'SELECT * FROM té WHERE a = 1'],
    ['a control character', 'SELECT * FROM t WHERE a = 1\f'],
    ['an unterminated string', "SELECT * FROM t WHERE a = 'x"],
  ])('gives up on %s', (_why, text) => {
    expect(quickShape(text)).toBeNull();
  });

  // The property the shape cache relies on: every token replaced is a constant for PostgreSQL too,
  // so texts that share a quick shape share normalize's shape. Each text is varied at every $n.
  const corpus = [
    'SELECT abalance FROM pgbench_accounts WHERE aid = 12345;',
    "SELECT a, b FROM s.t WHERE a = 'x' AND b <> 2.5 OR c != 'it''s' AND d < 1 AND e > 'q' AND f <= 0 AND g >= .5",
    "UPDATE t SET a = 'v', b = 3 WHERE id = 3 RETURNING *",
    "DELETE FROM t WHERE id = 7 AND name = 'n'",
    "INSERT INTO t SELECT * FROM u WHERE u.k = 'k'",
    "WITH x AS (SELECT * FROM t WHERE a = 1) SELECT * FROM x WHERE b = 'z'",
    "SELECT * FROM t WHERE a = '1'::int AND b = 'x' COLLATE C AND d::text = '5'",
    'SELECT * FROM t WHERE a[1] = 5 AND (b = 6) AND f(c := 7) = 8',
    "SELECT data->>'k' = 'v', x = ANY('{1}') FROM t WHERE j @> '{}' AND j = '{}'",
    'SELECT * FROM t WHERE a = 5 ORDER BY 1 LIMIT 10',
    "SELECT * FROM t WHERE ts = timestamp '2020-01-01' AND v = 1.",
    'TABLE t',
    "VALUES (1, 'a')",
    "SELECT CASE WHEN a = 1 THEN 'x' ELSE 'y' END FROM t WHERE b = 'c'",
  ];
  it.each(corpus)('replaces only what normalize replaces: %s', (text) => {
    const shape = quickShape(text);
    if (shape === null) return;
    const variant = shape.slice(1).replace(/\$(\d+)/g, (_m, k: string) => (Number(k) % 2 === 0 ? '98765' : "'other'"));
    expect(quickShape(variant)).toBe(shape);
    expect(normalizeSync(variant)).toBe(normalizeSync(text));
  });
});
