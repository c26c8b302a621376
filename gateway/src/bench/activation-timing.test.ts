import { describe, expect, it } from 'vitest';
import { harmlessPolicy, median } from './activation-timing.ts';

describe('activation timing helpers', () => {
  it('median of odd and even samples, null for none', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNull();
  });

  it('each commit changes the harmless rule, for both engines', () => {
    for (const engine of ['rego', 'cedar'] as const) {
      const a = harmlessPolicy(engine, 1);
      const b = harmlessPolicy(engine, 2);
      expect(a.file).toBe(b.file);
      expect(a.file.startsWith(`policies/${engine}/`)).toBe(true);
      expect(a.content).not.toBe(b.content);
      expect(b.content).toContain('bench-activation-2');
    }
  });
});
