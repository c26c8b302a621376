// Long multi-statement work done in slices (issue 11 item 3): a Query of many statements is decided
// and audited a few milliseconds at a time, yielding to the event loop (setImmediate) between slices,
// so that other sessions are served meanwhile. Work that fits in one slice stays synchronous.

/** Work done before yielding, in milliseconds of the event loop's time. */
export const SLICE_MS = 4;

/** How many steps run between two looks at the clock. */
const STEPS_PER_LOOK = 4;

/**
 * step(0), step(1), ... step(count - 1), in order, their results in an array: at once when they all
 * ran within `sliceMs`, else a Promise that yields with setImmediate after each `sliceMs` of work and
 * resolves with the same array (rejects with what a step threw). A step never runs after one threw.
 */
export function mapInSlices<T>(count: number, step: (i: number) => T, sliceMs: number = SLICE_MS): T[] | Promise<T[]> {
  const out = new Array<T>(count);
  const next = runSlice(out, 0, step, sliceMs);
  if (next === count) return out;
  return new Promise<T[]>((resolve, reject) => {
    const resume = (from: number): void => {
      setImmediate(() => {
        try {
          const at = runSlice(out, from, step, sliceMs);
          if (at === count) resolve(out);
          else resume(at);
        } catch (e) {
          reject(e);
        }
      });
    };
    resume(next);
  });
}

/** Runs steps from `from` until all ran or the slice is used up; the index of the next step to run. */
function runSlice<T>(out: T[], from: number, step: (i: number) => T, sliceMs: number): number {
  const start = performance.now();
  let i = from;
  while (i < out.length) {
    out[i] = step(i);
    i++;
    if ((i - from) % STEPS_PER_LOOK === 0 && performance.now() - start >= sliceMs) break;
  }
  return i;
}
