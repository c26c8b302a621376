// The policy evaluation worker's code compiled to plain JavaScript once per process, so that its
// threads start without tsx: tsx in a worker thread registers its module hooks there, which runs
// one more V8 isolate per worker (its loader thread) and holds the transformed sources, about
// 20-30 MB of resident memory for each evaluation worker and warm spare.
//
// The bundle (build/compile-bundle.js) is in a private temporary directory, removed when the pool
// closes; each engine stays in a chunk of its own, imported only when that engine is built (Cedar's
// WebAssembly is not loaded by a worker that evaluates Rego).

import { compileBundle } from '../build/compile-bundle.js';

/** The worker's TypeScript entry, run through tsx: what a pool uses when no bundle was made. */
export const TSX_EVAL_WORKER_ENTRY = new URL('./eval-worker-entry.js', import.meta.url);

export interface EvalWorkerBundle {
  /** The module a worker thread starts from. */
  entry: URL;
  /** Removes the bundle's files (after the workers are stopped). */
  remove(): Promise<void>;
}

/** The bundle pools of this process share (tests start many gateways), and how many use it. */
let shared: { bundle: Promise<{ entry: URL; remove(): Promise<void> }>; users: number } | null = null;

/**
 * Compiles eval-worker.ts and what it imports into a private temporary directory, once per process
 * while any pool uses it; each caller's remove() releases its use, and the last one removes the
 * files. Rejects when it cannot (no esbuild, a read-only temporary directory): the caller then
 * keeps the tsx entry.
 */
export async function bundleEvalWorker(): Promise<EvalWorkerBundle> {
  if (shared === null) {
    const mine = { bundle: compileBundle(new URL('./eval-worker.ts', import.meta.url), { prefix: 'gatehouse-eval-worker-' }), users: 0 };
    shared = mine;
    mine.bundle.catch(() => {
      if (shared === mine) shared = null;
    });
  }
  const use = shared;
  use.users += 1;
  let compiled: { entry: URL; remove(): Promise<void> };
  try {
    compiled = await use.bundle;
  } catch (e) {
    use.users -= 1;
    throw e;
  }
  let released = false;
  return {
    entry: compiled.entry,
    remove: async () => {
      if (released) return;
      released = true;
      use.users -= 1;
      if (use.users > 0) return;
      if (shared === use) shared = null;
      await compiled.remove();
    },
  };
}
