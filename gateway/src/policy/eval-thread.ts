// One policy evaluation thread as the pool (eval-pool.ts) sees it: at most one job at a time, its CPU
// time watched while it runs, terminated when the job overruns its budget.

import { Worker } from 'node:worker_threads';
import type { EvalWorkerData, FromWorker, ToWorker } from './eval-messages.ts';
import { ThreadCpuClock } from './thread-cpu.ts';

/**
 * Each evaluation thread's young generation (V8's smallest: two 1 MB semi-spaces). An evaluation
 * allocates little JavaScript (its input's JSON text, the verdict; OPA works in its own WebAssembly
 * memory), so a small young generation is collected often and cheaply; the 8 MB it had (heapMb / 8)
 * was up to 6 MB more resident per thread, 2 MB of it at idle (docs/benchmarks.md).
 */
const WORKER_YOUNG_GENERATION_MB = 2;

/** How an evaluation ended when it did not return a verdict. */
export type Failure = { type: 'overrun'; cpuMs: number; wall: boolean } | { type: 'crashed'; why: string };

export interface Job {
  message: ToWorker;
  budgetMs: number;
  done(result: FromWorker | Failure): void;
}

/** Probe a running job's CPU this soon after it started (its own CPU so far is at most this much wall time). */
const FIRST_PROBE_MS = 5;

/** One worker thread: at most one job at a time, watched while it runs. */
export class EvalThread {
  readonly worker: Worker;
  readonly loaded = new Set<string>();
  private clock: ThreadCpuClock | null = null;
  private ready = false;
  private job: Job | null = null;
  private timer: NodeJS.Timeout | null = null;
  private dead = false;

  constructor(
    entry: URL,
    data: EvalWorkerData,
    heapMb: number,
    private readonly wallCeilingMs: (budgetMs: number) => number,
    private readonly onIdle: (w: EvalThread) => void,
    private readonly onDead: (w: EvalThread, why: string) => void,
  ) {
    this.worker = new Worker(entry, {
      workerData: data,
      resourceLimits: { maxOldGenerationSizeMb: heapMb, maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
      stdout: false,
      stderr: false,
    });
    this.worker.unref();
    this.worker.on('message', (m: FromWorker) => this.onMessage(m));
    this.worker.on('error', (e) => this.die(`the evaluation worker failed: ${e.message}`));
    this.worker.on('exit', (code) => this.die(`the evaluation worker exited (code ${code})`));
  }

  get idle(): boolean {
    return this.ready && !this.dead && this.job === null;
  }

  run(job: Job): void {
    this.job = job;
    this.worker.postMessage(job.message);
    this.watch(job, performance.now(), null, 0);
  }

  /**
   * Checks the running job's CPU time: first after FIRST_PROBE_MS of wall time (its CPU so far is
   * counted as that much, an upper bound), then whenever the rest of the budget could be used up.
   */
  private watch(job: Job, started: number, cpuAtProbe: number | null, credit: number): void {
    const elapsed = performance.now() - started;
    let used: number;
    let nextCpu = cpuAtProbe;
    let nextCredit = credit;
    if (this.clock === null) {
      used = elapsed; // no thread clock: wall time it is
    } else if (cpuAtProbe === null) {
      const now = this.clock.millis();
      if (elapsed > 0 && now !== null) {
        nextCpu = now;
        nextCredit = elapsed;
      }
      used = nextCredit;
    } else {
      const now = this.clock.millis();
      used = now === null ? elapsed : credit + (now - cpuAtProbe);
    }
    const wallLimit = this.clock === null ? job.budgetMs : this.wallCeilingMs(job.budgetMs);
    if (used >= job.budgetMs || elapsed >= wallLimit) {
      this.job = null;
      this.kill();
      job.done({ type: 'overrun', cpuMs: used, wall: used < job.budgetMs });
      return;
    }
    const wait = cpuAtProbe === null && nextCpu === null ? FIRST_PROBE_MS : Math.max(1, Math.min(job.budgetMs - used, wallLimit - elapsed));
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.job === job) this.watch(job, started, nextCpu, nextCredit);
    }, wait);
  }

  private onMessage(m: FromWorker): void {
    if (m.type === 'ready') {
      this.clock = m.tid === null ? null : ThreadCpuClock.open(m.tid);
      this.ready = true;
      this.onIdle(this);
      return;
    }
    const job = this.job;
    if (job === null) return;
    this.job = null;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    job.done(m);
    if (!this.dead) this.onIdle(this);
  }

  /** Terminates the thread (its memory goes with it); the pool replaces it. */
  kill(): void {
    if (this.dead) return;
    this.die('replaced');
    void this.worker.terminate();
  }

  private die(why: string): void {
    if (this.dead) return;
    this.dead = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.clock?.close();
    const job = this.job;
    this.job = null;
    job?.done({ type: 'crashed', why });
    this.onDead(this, why);
  }
}
