// Red-team round 20b against the integer-only quick-shape template (sql/quick-shape-template.ts): a text the
// template matches must get exactly the shape the scan (sql/quick-shape.ts) gives it, and PostgreSQL's
// normalized shape of the two texts must agree, for texts built from the forms the brief names (LIMIT,
// set_config arguments, numbers next to names, dots or `e`, comments, strings, positional parameters,
// several statements, texts at the length limit). Random texts, a fixed seed: failures are reproducible.

import { loadModule, normalizeSync } from 'libpg-query';
import { beforeAll, describe, expect, it } from 'vitest';
import { quickShape, QUICK_SHAPE_MAX_LENGTH } from './quick-shape.ts';
import { QuickShapeTemplate } from './quick-shape-template.ts';

/** mulberry32: small, seeded. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = [
  'SELECT * FROM t WHERE a = ', 'SELECT a FROM t1 WHERE b <> ', ' AND c >= ', ' OR d != ', ' LIMIT ', ' OFFSET ', 'e', 'E', '.', '..', '_',
  'x', '0x', '0b', '0o', '$', '$1', ' ', '\n', '\t', '--c\n', '/*c*/', "'s'", "E'\\n'", "U&'d'", "'a''b'", ';', '; SELECT 1', '::int', '(', ')',
  ',', 'set_config(', "'search_path'", 'pg_sleep(', ' = ', '=', '<', '>', '-', '+', 'a1', '1a', 'id', 'FROM', 'WHERE', 'x = ', 'x=', '[', ']',
  '"q"', 'ñ', '\u00a0', 'tbl.', '.5', '1.', '1e5', '1_000', '5', '42', '007', '99999999999999999999',
];
const DIGITS = ['0', '1', '9', '12', '007', '2147483648', '99999999999999999999', '1234567890123456789012345678901234567890'];
const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

function randomText(r: () => number): string {
  let s = pick(r, ['SELECT * FROM t WHERE a = ', 'UPDATE t SET b = 1 WHERE a = ', 'select x from y where z >= ', 'WITH q AS (SELECT 1) SELECT * FROM q WHERE a = ']);
  const n = 1 + Math.floor(r() * 8);
  for (let i = 0; i < n; i++) s += r() < 0.4 ? pick(r, DIGITS) : pick(r, PIECES);
  return s;
}

/** `text` with each of its maximal digit runs replaced, at random, by another run (or kept). */
function otherIntegers(r: () => number, text: string): string {
  return text.replace(/[0-9]+/g, (d) => (r() < 0.6 ? pick(r, DIGITS) : d));
}

/** Random edits anywhere: a character inserted, removed or replaced. */
function edited(r: () => number, text: string): string {
  const at = Math.floor(r() * (text.length + 1));
  const c = pick(r, ['1', '0', 'e', '.', ' ', "'", '$', '-', ';', 'x', '_', '/']);
  switch (Math.floor(r() * 3)) {
    case 0:
      return text.slice(0, at) + c + text.slice(at);
    case 1:
      return text.slice(0, at) + text.slice(at + 1);
    default:
      return text.slice(0, at) + c + text.slice(at + 1);
  }
}

function normalized(text: string): string | null {
  try {
    return normalizeSync(text);
  } catch {
    return null;
  }
}

describe('red-team round 20b: quick-shape template against the scan (fuzz)', () => {
  beforeAll(async () => {
    await loadModule();
  });

  it('held: whenever the template matches a text, the scan gives that text the same shape, and PostgreSQL normalizes both texts alike (40k pairs)', () => {
    const r = rng(20_2020);
    let matched = 0;
    for (let i = 0; i < 40_000; i++) {
      const first = randomText(r);
      const spans: number[] = [];
      const shape = quickShape(first, spans);
      if (shape === null) continue;
      const t = new QuickShapeTemplate();
      t.learn(first, shape, spans);
      const second = r() < 0.7 ? otherIntegers(r, first) : edited(r, otherIntegers(r, first));
      const again = t.match(second);
      if (again === null) continue;
      matched++;
      expect({ second, shape: quickShape(second) }).toEqual({ second, shape: again });
      const a = normalized(first);
      const b = normalized(second);
      if (a !== null && b !== null) expect({ first, second, b }).toEqual({ first, second, b: a });
    }
    expect(matched).toBeGreaterThan(1_000);
  });

  it('held: at the length limit, a text one digit longer than QUICK_SHAPE_MAX_LENGTH is not matched', () => {
    const head = 'SELECT * FROM t WHERE a = ';
    const first = `${head}1 AND b = 2${' '.repeat(QUICK_SHAPE_MAX_LENGTH - head.length - 12)}`;
    expect(first.length).toBe(QUICK_SHAPE_MAX_LENGTH - 1);
    const spans: number[] = [];
    const shape = quickShape(first, spans);
    expect(shape).not.toBeNull();
    const t = new QuickShapeTemplate();
    t.learn(first, shape!, spans);
    expect(t.match(first.replace('= 1 ', '= 12 '))).toBe(shape);
    expect(t.match(first.replace('= 1 ', '= 123 '))).toBeNull();
    expect(quickShape(first.replace('= 1 ', '= 123 '))).toBeNull();
  });
});
