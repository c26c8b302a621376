import { describe, expect, it } from 'vitest';
import { mapInSlices } from './work-slices.ts';

/** Busy work of about `ms` milliseconds (the slices are measured by the clock). */
function spin(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

describe('mapInSlices', () => {
  it('returns the array at once when the work fits in one slice', () => {
    const out = mapInSlices(10, (i) => i * 2, 1_000);
    expect(out).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
  });

  it('yields to the event loop between slices and keeps the order of the results', async () => {
    const seen: string[] = [];
    const out = mapInSlices(
      40,
      (i) => {
        spin(1);
        seen.push(`step ${i}`);
        return i;
      },
      2,
    );
    expect(out).toBeInstanceOf(Promise);
    setImmediate(() => seen.push('other'));
    expect(await out).toEqual(Array.from({ length: 40 }, (_, i) => i));
    const other = seen.indexOf('other');
    // The other callback ran after the first slice and before the last step.
    expect(other).toBeGreaterThan(0);
    expect(other).toBeLessThan(seen.length - 1);
  });

  it('rejects with what a step threw and runs no step after it', async () => {
    let ran = 0;
    const out = mapInSlices(
      100,
      (i) => {
        ran++;
        spin(1);
        if (i === 30) throw new Error('step 30');
        return i;
      },
      2,
    );
    await expect(out).rejects.toThrow('step 30');
    expect(ran).toBe(31);
  });
});
