// Policy evaluations in worker threads with a hard deadline: each evaluation may use `budgetMs` of
// its worker thread's own CPU time (waiting for a CPU does not count); one that overruns is cut off
// (the worker is terminated and replaced) and comes back as a deny. Memory is bounded per worker
// (V8 heap limits, a maximum WebAssembly memory) and given back when a worker is replaced.
// Warm spares (started and loaded with the current policy ahead of time) take a terminated worker's
// place at once, so a runaway evaluation never leaves the others waiting for a thread to start.

import { engineErrorVerdict } from './combine.ts';
import type { EvalWorkerData, FromWorker, ToWorker } from './eval-messages.ts';
import { TSX_EVAL_WORKER_ENTRY, type EvalWorkerBundle } from './eval-worker-bundle.ts';
import { EVAL_BUDGET_POLICY_ID, evaluateWithBudget, type BudgetedVerdict, type PolicyEvaluator } from './evaluate.ts';
import { EvalThread, type Failure } from './eval-thread.ts';
import type { EngineSpec, EngineVerdict, PolicyEngine, PolicyInput } from './types.ts';

export interface EvalPoolOptions {
  /**
   * The compiled worker code threads start from (eval-worker-bundle.ts: no tsx in the workers),
   * removed when the pool closes. Default: eval-worker-entry.js, the TypeScript through tsx.
   */
  bundle?: EvalWorkerBundle;
  /** Worker threads evaluating side by side (default 2). */
  workers?: number;
  /**
   * Warm spare threads (default 1): started and loaded with the latest policy while idle, one takes
   * the place of a worker that is terminated or ends, and another spare is started behind it.
   */
  spares?: number;
  /** V8 old-generation heap per worker, MB (default 64). */
  heapMb?: number;
  /** WebAssembly memory one Rego engine may grow to, MB (default 256). */
  wasmMb?: number;
  /** A worker holding more WebAssembly memory than this after an evaluation is replaced, MB (default 64). */
  recycleMb?: number;
  /**
   * Wall-clock ceiling for one evaluation, ms (default the larger of 50 budgets and 5 s): only
   * reached when the worker gets almost no CPU. Where its CPU time cannot be read, the budget is wall time.
   */
  wallCeilingMs?: (budgetMs: number) => number;
  /** CPU budget for building an engine in a worker and running the warm-up inputs through it, ms (default 2000). */
  loadBudgetMs?: number;
  /** Inputs each engine is warmed up with in every worker before its first evaluation. */
  warmUp?: () => PolicyInput[];
  /** Each evaluation's time in its worker (microseconds), e.g. for a metrics histogram. */
  onEvaluated?: (engine: EngineSpec['kind'], micros: number) => void;
  /** One line for the operator when a worker is terminated or replaced. */
  onInfo?: (line: string) => void;
}

/** Worker threads the gateway evaluates in (server.ts). */
export const EVAL_WORKERS = 2;

interface QueuedEvaluation {
  key: string;
  spec: EngineSpec;
  input: PolicyInput;
  budgetMs: number;
  resolve(v: BudgetedVerdict): void;
}

/** Counters of the pool's worker lifecycle (tests, diagnostics). */
export interface EvalPoolStats {
  /** Workers evaluating now, and warm spares behind them. */
  workers: number;
  spares: number;
  /** A spare took the place of a worker that was terminated or ended. */
  promoted: number;
  /** An evaluation waited for its worker to load the policy first (a cold worker or a new revision). */
  loadsBeforeEvaluation: number;
  /** A spare loaded the policy while nobody waited for it. */
  sparesWarmed: number;
}

/**
 * Evaluates engines that carry a spec in worker threads; an engine without one (a test double)
 * is evaluated in-process. Evaluations queue in arrival order for the next idle worker.
 */
export class EvalPool implements PolicyEvaluator {
  private readonly workers: EvalThread[] = [];
  private readonly spares: EvalThread[] = [];
  private readonly spareCount: number;
  /** The latest engine asked for: what spares load while idle. */
  private latest: { key: string; spec: EngineSpec } | null = null;
  /** Spares that failed to load `key`: not tried again for it (the failure is reported when the engine is used). */
  private readonly warmFailed = new WeakMap<EvalThread, string>();
  private readonly counters = { promoted: 0, loadsBeforeEvaluation: 0, sparesWarmed: 0 };
  private readonly queue: QueuedEvaluation[] = [];
  private readonly entry: URL;
  private readonly data: EvalWorkerData;
  private readonly size: number;
  private readonly heapMb: number;
  private readonly recycleBytes: number;
  private readonly wallCeilingMs: (budgetMs: number) => number;
  private readonly loadBudgetMs: number;
  private closed = false;

  constructor(private readonly options: EvalPoolOptions = {}) {
    this.entry = options.bundle?.entry ?? TSX_EVAL_WORKER_ENTRY;
    this.size = Math.max(1, options.workers ?? 2);
    this.heapMb = options.heapMb ?? 64;
    this.data = { regoMaxPages: Math.ceil(((options.wasmMb ?? 256) * 1024 * 1024) / 65536) };
    this.recycleBytes = (options.recycleMb ?? 64) * 1024 * 1024;
    this.wallCeilingMs = options.wallCeilingMs ?? ((budgetMs) => Math.max(budgetMs * 50, 5000));
    this.loadBudgetMs = options.loadBudgetMs ?? 2000;
    this.spareCount = Math.max(0, options.spares ?? 1);
    for (let i = 0; i < this.size; i++) this.workers.push(this.start());
    for (let i = 0; i < this.spareCount; i++) this.spares.push(this.start());
  }

  stats(): EvalPoolStats {
    return { workers: this.workers.length, spares: this.spares.length, ...this.counters };
  }

  evaluate(engine: PolicyEngine, input: PolicyInput, budgetMs: number): BudgetedVerdict | Promise<BudgetedVerdict> {
    const spec = engine.spec;
    if (spec === undefined || this.closed) return evaluateWithBudget(engine, input, budgetMs);
    return new Promise((resolve) => {
      const key = `${spec.kind}:${spec.revision}`;
      if (this.latest?.key !== key) {
        this.latest = { key, spec };
        for (const s of this.spares) this.warm(s);
      }
      this.queue.push({ key, spec, input, budgetMs, resolve });
      this.dispatch();
    });
  }

  /** Stops every worker; later evaluations run in-process. */
  async close(): Promise<void> {
    this.closed = true;
    const workers = [...this.workers.splice(0), ...this.spares.splice(0)];
    for (const q of this.queue.splice(0)) q.resolve(failed(q, { type: 'crashed', why: 'the gateway is stopping' }));
    await Promise.all(workers.map((w) => w.worker.terminate()));
    await this.options.bundle?.remove();
  }

  private start(): EvalThread {
    return new EvalThread(this.entry, this.data, this.heapMb, this.wallCeilingMs, (w) => this.idle(w), (w, why) => this.ended(w, why));
  }

  private idle(w: EvalThread): void {
    if (this.spares.includes(w)) this.warm(w);
    else this.dispatch();
  }

  /** A worker or spare ended: a warm spare takes a worker's place at once, and a new spare is started behind it. */
  private ended(w: EvalThread, why: string): void {
    if (this.closed) return;
    if (why !== 'replaced') this.options.onInfo?.(`policy evaluation worker ended: ${why}; starting another`);
    const spare = this.spares.indexOf(w);
    if (spare >= 0) {
      this.spares.splice(spare, 1);
      this.spares.push(this.start());
      return;
    }
    const i = this.workers.indexOf(w);
    if (i >= 0) this.workers.splice(i, 1);
    const promoted = this.spares.shift();
    if (promoted !== undefined) {
      this.workers.push(promoted);
      this.counters.promoted++;
      this.spares.push(this.start());
    } else {
      this.workers.push(this.start());
    }
    this.dispatch();
  }

  /** Loads the latest engine into an idle spare, so that it can evaluate as soon as it is promoted. */
  private warm(w: EvalThread): void {
    const latest = this.latest;
    if (latest === null || !w.idle || w.loaded.has(latest.key) || this.warmFailed.get(w) === latest.key) return;
    w.run({
      message: { type: 'load', key: latest.key, spec: latest.spec, warmUp: this.options.warmUp?.() ?? [] },
      budgetMs: this.loadBudgetMs,
      done: (result) => {
        if (result.type === 'loaded' && result.error === null) {
          this.loaded(w, latest.key);
          this.counters.sparesWarmed++;
        } else {
          this.warmFailed.set(w, latest.key);
        }
      },
    });
  }

  /** `key` is loaded in `w`: engines of earlier revisions are dropped from it. */
  private loaded(w: EvalThread, key: string): void {
    for (const old of w.loaded) if (old !== key) w.worker.postMessage({ type: 'forget', key: old } satisfies ToWorker);
    w.loaded.clear();
    w.loaded.add(key);
  }

  private dispatch(): void {
    for (const w of this.workers) {
      if (this.queue.length === 0) return;
      if (!w.idle) continue;
      const q = this.queue.shift()!;
      if (w.loaded.has(q.key)) this.evaluateOn(w, q);
      else this.loadOn(w, q);
    }
  }

  private loadOn(w: EvalThread, q: QueuedEvaluation): void {
    this.counters.loadsBeforeEvaluation++;
    const warmUp = this.options.warmUp?.() ?? [];
    w.run({
      message: { type: 'load', key: q.key, spec: q.spec, warmUp },
      budgetMs: this.loadBudgetMs,
      done: (result) => {
        if (result.type === 'loaded' && result.error === null) {
          this.loaded(w, q.key);
          this.queue.unshift(q); // its evaluation is next
          return;
        }
        if (result.type === 'overrun') {
          const reason = `loading the policy and evaluating its warm-up statements used more than ${this.loadBudgetMs} ms of CPU time and was stopped (policy revision ${q.spec.revision})`;
          q.resolve({ verdict: { action: 'deny', reason, policies: [EVAL_BUDGET_POLICY_ID], masks: [] }, micros: 0, transient: true, stopped: 'budget' });
          return;
        }
        const why = result.type === 'loaded' ? `cannot load the policy in the evaluation worker: ${result.error}` : describe(result, this.loadBudgetMs, 'loading the policy');
        q.resolve({ verdict: engineErrorVerdict(why), micros: 0, transient: true, ...(result.type === 'crashed' ? { stopped: 'crashed' as const } : {}) });
      },
    });
  }

  private evaluateOn(w: EvalThread, q: QueuedEvaluation): void {
    w.run({
      message: { type: 'evaluate', key: q.key, input: q.input },
      budgetMs: q.budgetMs,
      done: (result) => {
        if (result.type === 'verdict') {
          this.options.onEvaluated?.(q.spec.kind, result.micros);
          q.resolve({ verdict: result.verdict, micros: result.micros, transient: false });
          if (result.memoryBytes > this.recycleBytes) w.kill(); // give the memory back
          return;
        }
        q.resolve(failed(q, result));
      },
    });
  }
}

function failed(q: QueuedEvaluation, result: FromWorker | Failure): BudgetedVerdict {
  switch (result.type) {
    case 'overrun':
      // Transient: the decision cache keys a verdict by what the policy reads, not by what made this
      // evaluation slow (a megabyte of statement text), so reusing this deny would refuse the same
      // statement to every other session (red-team round 7, R7-5).
      return { verdict: overBudget(q.spec.revision, q.budgetMs, result), micros: Math.round(result.cpuMs * 1000), transient: true, stopped: 'budget' };
    case 'crashed':
      return { verdict: engineErrorVerdict(result.why), micros: 0, transient: true, stopped: 'crashed' };
    default:
      return { verdict: engineErrorVerdict(`unexpected ${result.type} from the evaluation worker`), micros: 0, transient: true };
  }
}

function describe(f: FromWorker | Failure, budgetMs: number, what: string): string {
  switch (f.type) {
    case 'overrun':
      return `${what} used more than its budget of ${budgetMs} ms and was stopped`;
    case 'crashed':
      return `${what}: ${f.why}`;
    default:
      return `${what}: unexpected ${f.type}`;
  }
}

/** The deny an evaluation that ran over its budget becomes. */
function overBudget(revision: string, budgetMs: number, f: { cpuMs: number; wall: boolean }): EngineVerdict {
  const how = f.wall
    ? `did not finish within ${budgetMs} ms of CPU time or the wall-clock ceiling`
    : `used more than its budget of ${budgetMs} ms of CPU time`;
  return {
    action: 'deny',
    reason: `the policy evaluation for this statement ${how} and was stopped (policy revision ${revision})`,
    policies: [EVAL_BUDGET_POLICY_ID],
    masks: [],
  };
}
