// Evaluates a loaded opa-wasm policy on an input given as JSON text, through the module's `opa_eval`
// export (OPA's WebAssembly ABI 1.2: input bytes in, result JSON text out, one call). The text is
// written straight into the module's memory and the result read from it, without opa-wasm's
// per-call TextEncoder and TextDecoder or its byte-by-byte search for the result's end. A module or
// library without that ABI is evaluated through opa-wasm's own `evaluate` with the same bytes.

import type { LoadedPolicy } from '@open-policy-agent/opa-wasm';

/** What opa-wasm's LoadedPolicy holds for its own ABI 1.2 path (src/opa.js). */
interface OpaInstanceFields {
  minorVersion: number;
  mem: WebAssembly.Memory;
  dataAddr: number;
  dataHeapPtr: number;
  wasmInstance: WebAssembly.Instance;
}

type OpaEvalExport = (reserved: number, entrypoint: number, dataAddr: number, inputAddr: number, inputLen: number, heapPtr: number, format: number) => number;

const PAGE_BYTES = 64 * 1024;

/** The result set of one evaluation, parsed; throws when evaluation fails (a caller turns that into deny). */
export type OpaJsonEvaluator = (inputJson: string) => unknown;

export function opaJsonEvaluator(policy: LoadedPolicy, entrypoint: string): OpaJsonEvaluator {
  const fields = policy as unknown as Partial<OpaInstanceFields>;
  const entry = policy.entrypoints[entrypoint];
  const opaEval = fields.wasmInstance?.exports['opa_eval'] as OpaEvalExport | undefined;
  const mem = fields.mem;
  if (
    entry === undefined ||
    typeof opaEval !== 'function' ||
    !(mem instanceof WebAssembly.Memory) ||
    typeof fields.minorVersion !== 'number' ||
    fields.minorVersion < 2 ||
    typeof fields.dataAddr !== 'number' ||
    typeof fields.dataHeapPtr !== 'number'
  ) {
    const encoder = new TextEncoder();
    return (json) => policy.evaluate(encoder.encode(json).buffer, entrypoint);
  }
  let buffer = mem.buffer;
  let view = Buffer.from(buffer);
  const current = (): Buffer => {
    // The memory's ArrayBuffer is replaced whenever it grows (here or inside opa_eval).
    if (mem.buffer !== buffer) {
      buffer = mem.buffer;
      view = Buffer.from(buffer);
    }
    return view;
  };
  return (json) => {
    // Read each time: opa-wasm moves it only when data is set, which the engine never does after load.
    const inputAddr = fields.dataHeapPtr!;
    const length = Buffer.byteLength(json, 'utf8');
    const missing = inputAddr + length - mem.buffer.byteLength;
    // With a maximum set (policies.eval memory limit), grow throws: the evaluation fails closed.
    if (missing > 0) mem.grow(Math.ceil(missing / PAGE_BYTES));
    current().write(json, inputAddr, length, 'utf8');
    const resultAddr = opaEval(0, entry, fields.dataAddr!, inputAddr, length, inputAddr + length, 0);
    const out = current();
    const end = out.indexOf(0, resultAddr);
    if (end < 0) throw new Error('opa_eval returned a result without its terminating NUL');
    return JSON.parse(out.toString('utf8', resultAddr, end)) as unknown;
  };
}
