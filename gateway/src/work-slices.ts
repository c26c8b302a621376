// Long multi-statement work done in slices (issue 11 item 3): a Query of many statements is decided
// and audited a few milliseconds at a time, yielding to the event loop (setImmediate) between slices,
// so that other sessions are served meanwhile. Work that fits in one slice stays synchronous.

/** Work done before yielding, in milliseconds of the event loop's time. */
export const SLICE_MS = 4;

/** How many steps run between two looks at the clock. */
const STEPS_PER_LOOK = 4;

/** Why a sliced decision was abandoned: the client cancelled it, or the session ended. */
export type StopReason = 'cancelled' | 'session ended';

/**
 * The stop signal of one decision (red-team round 18c): set when the session abandons the decision,
 * looked at by mapInSlices between slices. `slicing`: a run of slices using it is in progress.
 */
export class SliceStop {
  private why: StopReason | null = null;
  private runs = 0;
  private idle: Array<() => void> = [];

  /** Abandons the decision: the runs using this stop end at their next slice boundary. The first reason stays. */
  stop(reason: StopReason): void {
    this.why ??= reason;
  }

  get reason(): StopReason | null {
    return this.why;
  }

  get slicing(): boolean {
    return this.runs > 0;
  }

  /** Calls `then` once no run of slices uses this stop (at once when none does). */
  whenIdle(then: () => void): void {
    if (this.runs === 0) then();
    else this.idle.push(then);
  }

  /** @internal mapInSlices only. */
  enter(): void {
    this.runs++;
  }

  /** @internal mapInSlices only. */
  leave(): void {
    if (--this.runs > 0) return;
    for (const then of this.idle.splice(0)) then();
  }
}

/** A run of slices that saw its stop set: `done` steps ran (steps 0 .. done - 1), the others never will. */
export class SlicesStopped extends Error {
  constructor(
    readonly done: number,
    readonly reason: StopReason,
    /** The stop that ended the run (what finishes the abandoned decision counts its slices on it: mapToEnd). */
    readonly stop: SliceStop,
  ) {
    super(`work in slices stopped after ${done} steps (${reason})`);
    this.name = 'SlicesStopped';
  }
}

/**
 * step(0), step(1), ... step(count - 1), in order, their results in an array: at once when they all
 * ran within `sliceMs`, else a Promise that yields with setImmediate after each `sliceMs` of work and
 * resolves with the same array (rejects with what a step threw). A step never runs after one threw.
 * With `stop`: when it is set at a slice boundary (or before the first), no further step runs and the
 * Promise rejects with SlicesStopped.
 */
export function mapInSlices<T>(count: number, step: (i: number) => T, sliceMs: number = SLICE_MS, stop?: SliceStop): T[] | Promise<T[]> {
  if (stop?.reason != null) return Promise.reject(new SlicesStopped(0, stop.reason, stop));
  return runInSlices(count, step, sliceMs, stop, true);
}

/**
 * mapInSlices that runs to its end whatever `holder` says, its slices counted on `holder` (SliceStop
 * slicing): the records a stopped decision still owes are written so, in slices.
 */
export function mapToEnd<T>(count: number, step: (i: number) => T, holder: SliceStop, sliceMs: number = SLICE_MS): T[] | Promise<T[]> {
  return runInSlices(count, step, sliceMs, holder, false);
}

function runInSlices<T>(count: number, step: (i: number) => T, sliceMs: number, stop: SliceStop | undefined, stoppable: boolean): T[] | Promise<T[]> {
  const out = new Array<T>(count);
  const next = runSlice(out, 0, step, sliceMs);
  if (next === count) return out;
  stop?.enter();
  return new Promise<T[]>((resolve, reject) => {
    const end = (settle: () => void): void => {
      stop?.leave();
      settle();
    };
    const resume = (from: number): void => {
      setImmediate(() => {
        const why = stoppable ? (stop?.reason ?? null) : null;
        if (why !== null) return end(() => reject(new SlicesStopped(from, why, stop!)));
        try {
          const at = runSlice(out, from, step, sliceMs);
          if (at === count) end(() => resolve(out));
          else resume(at);
        } catch (e) {
          end(() => reject(e));
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
