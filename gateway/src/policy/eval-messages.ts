// The messages between the evaluation pool (main thread) and its workers (policy/eval-worker.ts).

import type { EngineSpec, EngineVerdict, PolicyInput } from './types.ts';

/** Fixed for a worker's life. */
export interface EvalWorkerData {
  /** The most WebAssembly pages (64 KiB) one Rego instance may grow to. */
  regoMaxPages: number;
}

export type ToWorker =
  /** Build the engine for `key` and run `warmUp` through it (the pool waits for `loaded`). */
  | { type: 'load'; key: string; spec: EngineSpec; warmUp: PolicyInput[] }
  | { type: 'evaluate'; key: string; input: PolicyInput }
  /** Drop an engine no longer active. */
  | { type: 'forget'; key: string };

export type FromWorker =
  /** `tid`: the kernel thread id, for reading the worker's CPU time (null: not on Linux). */
  | { type: 'ready'; tid: number | null }
  | { type: 'loaded'; key: string; error: string | null }
  /** `micros`: wall time inside the worker; `memoryBytes`: WebAssembly memory the engine holds now. */
  | { type: 'verdict'; verdict: EngineVerdict; micros: number; memoryBytes: number };
