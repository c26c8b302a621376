#!/bin/sh
':' //; [ "$GATEHOUSE_MALLOC_DEFAULTS" = 0 ] || export MALLOC_TRIM_THRESHOLD_="${MALLOC_TRIM_THRESHOLD_-131072}" MALLOC_MMAP_THRESHOLD_="${MALLOC_MMAP_THRESHOLD_-131072}"; exec node "$0" "$@"
// The two lines above are a shell script to sh and a no-op to JavaScript (a string and a comment).
// Run as an executable (`gatehouse`, `./gateway/bin/gatehouse.js`), sh fixes glibc's malloc thresholds
// at 128 KB unless the environment has its own, then replaces itself with node on this file (exec: one
// process): glibc reads them only when a process starts, and without them its dynamic thresholds rise
// to 2-4 MB at start and every thread's arena keeps up to 4 MB free (about 10 MB of idle RSS, 12-18 MB
// with 1,000 sessions; docs/benchmarks.md). An operator's MALLOC_*_ or GLIBC_TUNABLES wins (glibc
// prefers GLIBC_TUNABLES to these aliases); GATEHOUSE_MALLOC_DEFAULTS=0 sets nothing.
// `node gateway/bin/gatehouse.js` skips these lines: set the variables in its environment
// (src/build/malloc-defaults.ts does it for the bench's and the tests' own spawns).
// The `gatehouse` executable: loads the TypeScript sources through tsx and runs the CLI.
// `gatehouse serve`, a long-running process, first compiles the CLI to plain JavaScript
// (src/build/compile-bundle.js) and runs that instead: tsx's module hooks would keep a loader
// thread and the transformed sources in memory for the process's lifetime (tens of MB of idle
// RSS). The compiled files are removed at exit. GATEHOUSE_TSX=1, or a failed compile, keeps tsx.

const args = process.argv.slice(2);
let main = null;
if (args[0] === 'serve') {
  // V8's young generation stays at its initial size until the gateway listens (serve.ts releases
  // it): start-up's bursts would otherwise leave it at its maximum, resident and empty at idle.
  const { holdYoungGeneration } = await import('../src/build/young-generation.js');
  holdYoungGeneration();
  // node-postgres first, without waking Node's fetch (undici) as its Cloudflare check would.
  const { preloadPg } = await import('../src/build/pg-preload.js');
  await preloadPg();
}
if (args[0] === 'serve' && process.env.GATEHOUSE_WASM_TIER_UP !== '1') {
  // PostgreSQL's parser (libpg-query's WebAssembly) is compiled first, on V8's baseline compiler
  // only (Liftoff): V8's optimizing tier would re-compile it function by function as they get hot,
  // about 90 MB of code kept for the process's lifetime, for no measurable gain per statement
  // (docs/benchmarks.md). The flag is reset at once: WebAssembly compiled later (the Rego and
  // Cedar engines in the evaluation threads) tiers up as usual. GATEHOUSE_WASM_TIER_UP=1 skips this.
  const v8 = await import('node:v8');
  v8.setFlagsFromString('--liftoff-only');
  try {
    const { loadModule } = await import('libpg-query');
    await loadModule();
  } finally {
    v8.setFlagsFromString('--no-liftoff-only');
  }
}
if (args[0] === 'serve' && process.env.GATEHOUSE_TSX !== '1') {
  try {
    const { compileBundle } = await import('../src/build/compile-bundle.js');
    // Without keepNames: functions keep the names JavaScript gives them; esbuild's keepNames would add a
    // defineProperty for every closure created (every session and statement makes dozens), to keep
    // only the names of the few symbols it renames to avoid a clash between modules (`parse2`).
    // Only the serve verb's modules: the other verbs' (bench, demo, db, ...) would stay loaded for nothing.
    const bundle = await compileBundle(new URL('../src/cli/serve-main.ts', import.meta.url), { prefix: 'gatehouse-cli-' });
    ({ main } = await import(bundle.entry.href));
  } catch (e) {
    process.stderr.write(`gatehouse: running the TypeScript sources through tsx (compiling them failed: ${e instanceof Error ? e.message : String(e)})\n`);
  }
}
if (main === null) {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/cli/main.ts'));
}
const code = await main(args);
process.exitCode = code;
// Let pending output drain and handles close on their own; if something still holds the
// event loop open after a verb has finished, do not hang around for it.
setTimeout(() => process.exit(code), 2000).unref();
