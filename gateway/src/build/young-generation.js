// Keeps V8's young generation at its initial size while `gatehouse serve` starts, and lets it grow
// as usual once the gateway listens. Start-up (parser WebAssembly, compiled sources, config, policy
// load, the evaluation threads) allocates in bursts in which much survives, and V8 answers by
// doubling the semi-spaces up to their maximum (16 MB each on 64-bit): about 16 MB of young
// generation in the main thread and 2-4 MB in each evaluation thread, resident and empty at idle,
// because nothing shrinks it until a garbage collection finds the allocation rate low, and an idle
// gateway does not collect (docs/benchmarks.md, "What idle RSS is made of"). The growth factor is a
// V8 flag read at each growth decision, so it can be set and reset while running; the threads
// started meanwhile share it. Released, growth follows V8's default again under traffic.
// Plain JavaScript, so that the `gatehouse` executable can use it before anything else is loaded.

import v8 from 'node:v8';

/** V8's default --semi-space-growth-factor (Node 20 to 24). */
const V8_DEFAULT_GROWTH_FACTOR = 2;
/** Marks a hold across module copies (the executable's and the compiled bundle's). */
const HELD = Symbol.for('gatehouse.youngGenerationHeld');

/** Whether the operator set the semi-space flags themselves (then they are left alone). */
function operatorChoseSemiSpace() {
  return [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((a) => /semi[-_]space/.test(a));
}

/** Stops the young generation from growing (until releaseYoungGeneration). Returns whether it did. */
export function holdYoungGeneration() {
  if (operatorChoseSemiSpace() || globalThis[HELD] === true) return false;
  v8.setFlagsFromString('--semi-space-growth-factor=1');
  globalThis[HELD] = true;
  return true;
}

/** Lets the young generation grow as V8 does by default again, if holdYoungGeneration held it. */
export function releaseYoungGeneration() {
  if (globalThis[HELD] !== true) return false;
  v8.setFlagsFromString(`--semi-space-growth-factor=${V8_DEFAULT_GROWTH_FACTOR}`);
  globalThis[HELD] = false;
  return true;
}
