// The kept template gives a shape only when the scan gives that very shape: checked on texts that
// differ from a learned one in its integers, in other literal forms, and by inserted tokens.
import { describe, expect, it } from 'vitest';
import { quickShape } from './quick-shape.ts';
import { QuickShapeTemplate } from './quick-shape-template.ts';

const BASES = [
  'SELECT abalance FROM pgbench_accounts WHERE aid = 12345;',
  'SELECT a FROM t WHERE a = 1',
  "SELECT a FROM t WHERE a = 'x' AND b <> 25",
  'UPDATE t SET a = 1 WHERE b = 7',
  'DELETE FROM t WHERE a >= 3 OR b < 40',
  'WITH c AS (SELECT 1) SELECT * FROM c WHERE x = 5',
  'SELECT a FROM t WHERE a = 1 LIMIT 5',
  'SELECT a FROM t WHERE (a, b) = (1, 2)',
  "SELECT a FROM t WHERE a = 1 AND b = 'q'",
  'SELECT a FROM t WHERE a = 10 ;  ;',
];

const INSERTS = [' ', '(', ')', '-', '+', '.', ',', ';', "'", "''", 'e', 'E', '1', '.5', '5.', '0x', '_', 'a', '::', '=', '<>', 'e5', '_000', '/*', '--', '$1', '\u00e9', '"'];
const NUMBERS = ['0', '7', '123456', '99999999999999999999', '1.5', '.5', '5.', "'x'", '1e5', '0x1F', '1_000', '12a', '', ' 3'];

describe('QuickShapeTemplate', () => {
  it('gives the kept shape for a text that differs in its integers only', () => {
    const t = new QuickShapeTemplate();
    const first = 'SELECT abalance FROM pgbench_accounts WHERE aid = 12345;';
    const spans: number[] = [];
    const shape = quickShape(first, spans)!;
    t.learn(first, shape, spans);
    for (const aid of [1, 99, 100000, 4294967296]) {
      const again = t.match(`SELECT abalance FROM pgbench_accounts WHERE aid = ${aid};`);
      expect(again).toBe(shape);
    }
    expect(t.match('SELECT abalance FROM pgbench_accounts WHERE aid = 1.5;')).toBeNull();
    expect(t.match("SELECT abalance FROM pgbench_accounts WHERE aid = '1';")).toBeNull();
    expect(t.match('SELECT abalance FROM pgbench_accounts WHERE aid = 1;;')).toBeNull();
    expect(t.match('SELECT abalance FROM pgbench_accounts WHERE aid = ;')).toBeNull();
    expect(t.match('SELECT filler FROM pgbench_accounts WHERE aid = 1;')).toBeNull();
  });

  it('keeps nothing when a replaced literal is not an integer', () => {
    const t = new QuickShapeTemplate();
    const text = "SELECT a FROM t WHERE a = 1 AND b = 'q'";
    const spans: number[] = [];
    t.learn(text, quickShape(text, spans)!, spans);
    expect(t.match("SELECT a FROM t WHERE a = 2 AND b = 'q'")).toBeNull();
  });

  it('never gives a shape the scan would not give (mutated texts)', () => {
    let seed = 4242;
    const next = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
    const pick = <T>(from: readonly T[]): T => from[(next() >>> 8) % from.length]!;
    let matched = 0;
    let compared = 0;
    for (let i = 0; i < 20_000; i++) {
      const base = pick(BASES);
      const spans: number[] = [];
      const shape = quickShape(base, spans);
      if (shape === null) continue;
      const t = new QuickShapeTemplate();
      t.learn(base, shape, spans);
      // Another text: the replaced literals swapped for other forms, then maybe a token inserted anywhere.
      let text = base;
      for (let s = spans.length - 2; s >= 0; s -= 2) text = text.slice(0, spans[s]) + ((next() >>> 8) % 3 === 0 ? pick(NUMBERS) : String((next() >>> 8) % 100000)) + text.slice(spans[s + 1]);
      if ((next() >>> 8) % 2 === 0) {
        const at = (next() >>> 8) % (text.length + 1);
        text = text.slice(0, at) + pick(INSERTS) + text.slice(at);
      }
      const got = t.match(text);
      compared++;
      if (got === null) continue;
      matched++;
      expect(got, text).toBe(quickShape(text));
    }
    expect(compared).toBeGreaterThan(10_000);
    expect(matched).toBeGreaterThan(1_000);
  });
});
