import { describe, expect, it } from 'vitest';
import { mapInSlices, mapToEnd, SliceStop, SlicesStopped } from './work-slices.ts';

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

  it('stops at the next slice boundary once its stop is set, and says how many steps ran', async () => {
    const stop = new SliceStop();
    let ran = 0;
    const out = mapInSlices(
      1_000,
      (i) => {
        spin(0.2);
        ran++;
        if (i === 10) stop.stop('cancelled'); // set inside a slice: that slice ends, no other starts
        return i;
      },
      2,
      stop,
    );
    expect(stop.slicing).toBe(true);
    const e = await (out as Promise<number[]>).then(
      () => null,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(SlicesStopped);
    expect((e as SlicesStopped).reason).toBe('cancelled');
    expect((e as SlicesStopped).done).toBe(ran);
    expect(ran).toBeLessThan(1_000);
    expect(stop.slicing).toBe(false);
  });

  it('runs no step when stopped before it starts, and tells whenIdle when a stopped run ends', async () => {
    const stopped = new SliceStop();
    stopped.stop('session ended');
    let ran = 0;
    await expect(mapInSlices(5, () => ran++, 1_000, stopped)).rejects.toBeInstanceOf(SlicesStopped);
    expect(ran).toBe(0);
    const stop = new SliceStop();
    const out = mapInSlices(1_000, () => spin(0.2), 2, stop);
    let idle = false;
    stop.whenIdle(() => (idle = true));
    expect(idle).toBe(false);
    stop.stop('cancelled');
    await expect(out).rejects.toBeInstanceOf(SlicesStopped);
    expect(idle).toBe(true);
  });

  it('mapToEnd runs every step whatever its holder says, its slices counted on the holder', async () => {
    const holder = new SliceStop();
    holder.stop('cancelled');
    let ran = 0;
    const out = mapToEnd(
      200,
      () => {
        spin(0.2);
        return ran++;
      },
      holder,
      2,
    );
    expect(holder.slicing).toBe(true);
    expect(await out).toHaveLength(200);
    expect(ran).toBe(200);
    expect(holder.slicing).toBe(false);
  });
});
