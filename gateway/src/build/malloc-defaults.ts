// glibc's malloc thresholds Gatehouse starts with (the `gatehouse` executable's first lines set them in sh),
// for the places that start `node gateway/bin/gatehouse.js` themselves: the bench and the tests.

/** Fixed at glibc's own initial 128 KB: with a threshold set, glibc no longer raises both at start. */
export const MALLOC_DEFAULTS: Readonly<Record<string, string>> = Object.freeze({
  MALLOC_TRIM_THRESHOLD_: '131072',
  MALLOC_MMAP_THRESHOLD_: '131072',
});

/** `env` with MALLOC_DEFAULTS added where it has no value of its own, as the executable does; unchanged when GATEHOUSE_MALLOC_DEFAULTS=0. */
export function withMallocDefaults(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (env.GATEHOUSE_MALLOC_DEFAULTS === '0') return env;
  const out: NodeJS.ProcessEnv = { ...env };
  for (const [name, value] of Object.entries(MALLOC_DEFAULTS)) if (out[name] === undefined) out[name] = value;
  return out;
}
