// Red-team round 13 (held): the quick shape's one safety property, checked against PostgreSQL's own
// normalization on mutated texts. Texts with one quick shape share their facts (sql/shape-cache.ts),
// so two texts with one quick shape but different normalized shapes would be decided on facts that
// are not theirs. Each text is a statement with comparisons, mutated by inserting tokens that the
// lexer reads in other ways (string prefixes, comments, casts, operator characters, named
// arguments, ...); for each whose quick shape exists and that parses, the literals its quick shape
// replaced are replaced by other literal forms, and the result must have the same quick shape and
// the same normalized shape.
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModule, normalizeSync, parseSync } from 'libpg-query';
import { quickShape } from './quick-shape.ts';

beforeAll(() => loadModule());

const BASES = [
  'SELECT a FROM t WHERE a = 1',
  "SELECT a FROM t WHERE a = 'x' AND b <> 2.5",
  "UPDATE t SET a = 1 WHERE b = 'y'",
  "DELETE FROM t WHERE a >= 3 OR b < 'z'",
  'WITH c AS (SELECT 1) SELECT * FROM c WHERE x = 5',
  'SELECT f(a := 1) FROM t WHERE a = 2',
  'INSERT INTO t SELECT 1 WHERE 2 = 3',
  "SELECT CASE WHEN a = 1 THEN 'p' END FROM t",
  'SELECT a FROM t WHERE a = 1 LIMIT 5',
  "SELECT a FROM t WHERE a = '1'::regclass",
  'SELECT a FROM t WHERE (a, b) = (1, 2)',
  'SELECT a[1:2] FROM t WHERE a != .5',
  'SELECT a FROM t WHERE a = 1;',
];

const INSERTS = [
  ' ', '\n', '\t', '\r', '(', ')', '-', '+', '*', '/', '=', '<', '>', '!', '~', '@', '#', '%', '^', '&', '|', '`', '?', ':', '::',
  '.', ',', ';', "'", "''", 'e', 'E', 'U&', 'B', 'x', 'N', '1', '.5', '5.', '0x', '_', 'AND', 'NOT', 'IS', 'NULL', 'int', 'interval',
  'date', 'AS', 'a', '[', ']', 'OPERATOR(pg_catalog.=)', 'ANY', 'LIMIT', 'ARRAY', "e'", "b'", "x'", '=>', ':=', '>=', '<=', '<>', '!=',
  '=-', '-=', '||', 'e5', 'E+2', '_000', '0x1F', '0o17', 'UESCAPE', 'COLLATE', 'AT TIME ZONE', 'SIMILAR TO', 'BETWEEN', 'LIKE', 'ESCAPE', 'CHARACTER VARYING', 'IN',
];

const LITERALS = ["'x'", '12', '1.5', "'a''b'", '.5', '7.', "''", '0', "'--'", "'/*'", "';'", '99999999999999999999', "'\"'", "'e'"];

describe('quick shapes against PostgreSQL normalization (red-team round 13, held)', () => {
  it('texts with one quick shape have one normalized shape, whatever the literals its $n stand for', () => {
    let seed = 987;
    const next = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
    const pick = <T>(from: readonly T[]): T => from[(next() >>> 8) % from.length]!;
    let compared = 0;
    const mismatches: string[] = [];
    for (let i = 0; i < 12_000 && mismatches.length < 5; i++) {
      let text = pick(BASES);
      for (let m = 1 + (i % 2); m > 0; m--) {
        const at = (next() >>> 8) % (text.length + 1);
        const pad = pick(['', ' ', '  ']);
        text = text.slice(0, at) + pad + pick(INSERTS) + pad + text.slice(at);
      }
      const quick = quickShape(text);
      if (quick === null) continue;
      const normalized = normalizedOrError(text);
      if (normalized.startsWith('error: ')) continue;
      compared++;
      const other = quick.slice(1).replace(/\$\d+/g, () => pick(LITERALS));
      const otherNormalized = normalizedOrError(other);
      if (quickShape(other) !== quick || otherNormalized !== normalized) mismatches.push(JSON.stringify({ text, other, normalized, otherNormalized }));
    }
    expect(mismatches).toEqual([]);
    expect(compared).toBeGreaterThan(300);
  });
});

/** The normalized text, or `error: ...` when the text does not parse (normalize returns some lexer errors as its result). */
function normalizedOrError(text: string): string {
  try {
    parseSync(text);
    return normalizeSync(text);
  } catch (e) {
    return `error: ${(e as Error).message}`;
  }
}
