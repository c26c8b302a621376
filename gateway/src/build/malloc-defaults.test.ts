import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MALLOC_DEFAULTS, withMallocDefaults } from './malloc-defaults.ts';

const BIN = new URL('../../bin/gatehouse.js', import.meta.url).pathname;
const MALLOC_VARIABLES = /^(MALLOC_|GLIBC_TUNABLES=|GATEHOUSE_MALLOC_DEFAULTS=)/;

// Preloaded into the node process the executable starts: prints the environment that process was
// started with (what glibc read), as /proc/self/environ has it, and exits before the CLI runs.
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-malloc-'));
const probe = join(dir, 'environ-probe.mjs');
writeFileSync(
  probe,
  `import { readFileSync } from 'node:fs';
   const entries = readFileSync('/proc/self/environ', 'utf8').split('\\0').filter((e) => ${MALLOC_VARIABLES}.test(e));
   process.stdout.write(JSON.stringify(Object.fromEntries(entries.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]))));
   process.exit(0);`,
);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** This environment without any malloc variable, plus `extra`. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!MALLOC_VARIABLES.test(`${k}=`)) env[k] = v;
  return { ...env, ...extra };
}

/** The malloc variables in the environment of the node process that `gatehouse serve --help` (run as an executable) started. */
function launchedEnviron(extra: Record<string, string>): Record<string, string> {
  const out = execFileSync(BIN, ['serve', '--help'], { env: cleanEnv({ ...extra, NODE_OPTIONS: `--import ${probe}` }), encoding: 'utf8' });
  return JSON.parse(out) as Record<string, string>;
}

describe('the executable sets glibc malloc thresholds for the node process it starts', () => {
  it('sets both when the environment has neither', { timeout: 60_000 }, () => {
    expect(launchedEnviron({})).toEqual(MALLOC_DEFAULTS);
  });

  it("leaves an operator's value alone and adds only the one that is missing", { timeout: 60_000 }, () => {
    expect(launchedEnviron({ MALLOC_TRIM_THRESHOLD_: '262144' })).toEqual({ MALLOC_TRIM_THRESHOLD_: '262144', MALLOC_MMAP_THRESHOLD_: '131072' });
    expect(launchedEnviron({ MALLOC_TRIM_THRESHOLD_: '1048576', MALLOC_MMAP_THRESHOLD_: '65536' })).toEqual({ MALLOC_TRIM_THRESHOLD_: '1048576', MALLOC_MMAP_THRESHOLD_: '65536' });
  });

  it("passes an operator's GLIBC_TUNABLES through unchanged (glibc prefers it to the MALLOC_*_ aliases)", { timeout: 60_000 }, () => {
    // One tunable: glibc cuts a process's own copy of a list at its first ':' when it parses it, so
    // /proc/self/environ would show only the first of several (they all apply; read with gdb, `print mp_`).
    const tunables = 'glibc.malloc.trim_threshold=524288';
    expect(launchedEnviron({ GLIBC_TUNABLES: tunables })).toEqual({ GLIBC_TUNABLES: tunables, ...MALLOC_DEFAULTS });
  });

  it('sets nothing with GATEHOUSE_MALLOC_DEFAULTS=0', { timeout: 60_000 }, () => {
    expect(launchedEnviron({ GATEHOUSE_MALLOC_DEFAULTS: '0' })).toEqual({ GATEHOUSE_MALLOC_DEFAULTS: '0' });
  });

  it('`node gateway/bin/gatehouse.js` runs the same file without them (the shell lines are a no-op to JavaScript)', { timeout: 60_000 }, () => {
    const out = execFileSync(process.execPath, [BIN, 'serve', '--help'], { env: cleanEnv({ NODE_OPTIONS: `--import ${probe}` }), encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({});
  });
});

describe('withMallocDefaults (for spawns of node gateway/bin/gatehouse.js)', () => {
  it('adds what is missing, keeps what is set, and adds nothing when turned off', () => {
    expect(withMallocDefaults({ PATH: '/bin' })).toEqual({ PATH: '/bin', ...MALLOC_DEFAULTS });
    expect(withMallocDefaults({ MALLOC_MMAP_THRESHOLD_: '65536' })).toEqual({ MALLOC_MMAP_THRESHOLD_: '65536', MALLOC_TRIM_THRESHOLD_: '131072' });
    expect(withMallocDefaults({ GATEHOUSE_MALLOC_DEFAULTS: '0' })).toEqual({ GATEHOUSE_MALLOC_DEFAULTS: '0' });
  });
});
