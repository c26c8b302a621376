import { describe, expect, it } from 'vitest';
import { DECISION_IDS_PER_FILL, decisionId } from './decision-id.ts';

const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('decisionId', () => {
  it('makes version 4 UUIDs, none twice, across several fills of random bytes', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 3 * DECISION_IDS_PER_FILL + 5; i++) {
      const id = decisionId();
      expect(id).toMatch(V4);
      ids.add(id);
    }
    expect(ids.size).toBe(3 * DECISION_IDS_PER_FILL + 5);
  });

  it('uses every random hex digit: each position but the fixed ones takes many values', () => {
    const seen = Array.from({ length: 36 }, () => new Set<string>());
    for (let i = 0; i < 2000; i++) [...decisionId()].forEach((c, p) => seen[p]!.add(c));
    const fixed = new Set([8, 13, 14, 18, 23]);
    for (let p = 0; p < 36; p++) {
      if (fixed.has(p)) expect(seen[p]!.size, `position ${p}`).toBe(1);
      else if (p === 19) expect([...seen[p]!].sort()).toEqual(['8', '9', 'a', 'b']);
      else expect(seen[p]!.size, `position ${p}`).toBe(16);
    }
  });
});
