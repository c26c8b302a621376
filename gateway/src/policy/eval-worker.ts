// A policy evaluation worker thread: builds engines from their specs and evaluates one input at a
// time. The pool (eval-pool.ts) watches its CPU time and terminates it when an evaluation overruns.

import { parentPort, workerData } from 'node:worker_threads';
import { engineErrorVerdict } from './combine.ts';
import type { EvalWorkerData, FromWorker, ToWorker } from './eval-messages.ts';
import { currentThreadId } from './thread-cpu.ts';
import type { EngineSpec, EngineVerdict, PolicyEngine } from './types.ts';

const port = parentPort;
if (port === null) throw new Error('eval-worker.ts runs only as a worker thread');
const data = workerData as EvalWorkerData;
const engines = new Map<string, PolicyEngine>();
const post = (m: FromWorker): void => port.postMessage(m);

/**
 * Engines are imported when first built, not when the thread starts: a replacement worker is started
 * after every evaluation cut off, and loading the other engine's code (Cedar's is 4 MB of WebAssembly)
 * would be paid each time for nothing.
 */
async function build(spec: EngineSpec): Promise<PolicyEngine> {
  switch (spec.kind) {
    case 'rego': {
      const { loadRegoEngine } = await import('./rego-engine.ts');
      return loadRegoEngine(spec.module, spec.revision, spec.deterministic, { maxPages: data.regoMaxPages }, spec.reads);
    }
    case 'cedar': {
      const { cedarEngineFromSet } = await import('./cedar-engine.ts');
      return cedarEngineFromSet(spec.set, spec.revision);
    }
    default: {
      const never: never = spec;
      throw new Error(`unknown engine ${JSON.stringify(never)}`);
    }
  }
}

function evaluate(engine: PolicyEngine, input: Parameters<PolicyEngine['evaluate']>[0]): EngineVerdict {
  try {
    return engine.evaluate(input);
  } catch (e) {
    return engineErrorVerdict(e instanceof Error ? e.message : String(e));
  }
}

/** WebAssembly memory held by this thread's Rego engines (Cedar's is not reported). */
function memoryBytes(): number {
  let total = 0;
  for (const e of engines.values()) total += e.memoryBytes?.() ?? 0;
  return total;
}

port.on('message', (m: ToWorker) => {
  switch (m.type) {
    case 'load':
      build(m.spec).then(
        (engine) => {
          engines.set(m.key, engine);
          for (const input of m.warmUp) evaluate(engine, input);
          post({ type: 'loaded', key: m.key, error: null });
        },
        (e: unknown) => post({ type: 'loaded', key: m.key, error: e instanceof Error ? e.message : String(e) }),
      );
      return;
    case 'evaluate': {
      const engine = engines.get(m.key);
      const start = process.hrtime.bigint();
      const verdict = engine ? evaluate(engine, m.input) : engineErrorVerdict(`no engine ${m.key} in the evaluation worker`);
      const micros = Number((process.hrtime.bigint() - start) / 1000n);
      post({ type: 'verdict', verdict, micros, memoryBytes: memoryBytes() });
      return;
    }
    case 'forget':
      engines.delete(m.key);
      return;
    default: {
      const never: never = m;
      throw new Error(`unknown message ${JSON.stringify(never)}`);
    }
  }
});

post({ type: 'ready', tid: currentThreadId() });
