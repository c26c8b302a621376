// Gatehouse as a child process for the isolation harness (`gatehouse serve` on a config file), so
// that its RSS and event loop are its own, not shared with the harness's hundreds of clients.
// Reads the listening port from its log, samples its RSS from /proc, keeps the last log lines.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { withMallocDefaults } from '../build/malloc-defaults.ts';
import { stopOnExit } from './stop-on-exit.ts';

export interface GatewayProcess {
  pid: number;
  port: number;
  /** Resident set size in bytes (VmRSS), or null when it cannot be read (not Linux, exited). */
  rssBytes(): Promise<number | null>;
  /** CPU time it has used so far, all threads (user + system, /proc/<pid>/stat), seconds; null when it cannot be read. */
  cpuSeconds(): Promise<number | null>;
  /** Log lines (the `msg` of each NDJSON line) that match `pattern`, most recent last (at most 200 kept). */
  logLines(pattern: RegExp): string[];
  /** Whether it exited, and how. */
  exited(): { code: number | null; signal: string | null } | null;
  stop(): Promise<void>;
}

const KEEP_LINES = 2_000;
/** USER_HZ: Linux reports /proc CPU times in these ticks per second (100 on every common architecture). */
const CLOCK_TICKS = 100;

/** `env`: variables set for the gateway over this process's environment (e.g. glibc's malloc tunables for an A/B); glibc's malloc thresholds as the executable sets them unless `env` or this environment has its own (GATEHOUSE_MALLOC_DEFAULTS=0: none). `nodeArgs`: node's own options before the script (e.g. `--cpu-prof`, which NODE_OPTIONS refuses). */
export async function startGatewayProcess(options: { repoRoot: string; workDir: string; config: Record<string, unknown>; startTimeoutMs?: number; env?: Record<string, string>; nodeArgs?: readonly string[] }): Promise<GatewayProcess> {
  const configFile = path.join(options.workDir, 'gatehouse.json');
  await writeFile(configFile, JSON.stringify(options.config, null, 2));
  const child: ChildProcess = spawn(
    process.execPath,
    [...(options.nodeArgs ?? []), path.join(options.repoRoot, 'gateway/bin/gatehouse.js'), 'serve', '--config', configFile, '--log-format', 'json'],
    { stdio: ['ignore', 'ignore', 'pipe'], env: withMallocDefaults({ ...process.env, NODE_ENV: 'production', ...options.env }) },
  );
  const lines: string[] = [];
  let exit: { code: number | null; signal: string | null } | null = null;
  child.once('exit', (code, signal) => (exit = { code, signal }));
  const forget = stopOnExit(() => {
    if (exit === null) child.kill('SIGKILL');
  });
  child.once('exit', forget);
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Gatehouse did not start within ${options.startTimeoutMs ?? 120_000} ms: ${lines.slice(-5).join(' | ')}`)), options.startTimeoutMs ?? 120_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Gatehouse exited (${code}) before listening: ${lines.slice(-5).join(' | ')}`));
    });
    createInterface({ input: child.stderr! }).on('line', (line) => {
      let msg = line;
      try {
        const parsed = JSON.parse(line) as { msg?: unknown };
        if (typeof parsed.msg === 'string') msg = parsed.msg;
      } catch {
        // not NDJSON: keep the raw line
      }
      lines.push(msg);
      if (lines.length > KEEP_LINES) lines.splice(0, lines.length - KEEP_LINES);
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(msg);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
  });
  return {
    pid: child.pid!,
    port,
    rssBytes: async () => {
      try {
        const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
        const m = /VmRSS:\s+(\d+) kB/.exec(status);
        return m ? Number(m[1]) * 1024 : null;
      } catch {
        return null;
      }
    },
    cpuSeconds: async () => {
      try {
        const stat = await readFile(`/proc/${child.pid}/stat`, 'utf8');
        // After the command name (in parentheses, may hold spaces): utime and stime are fields 14 and 15, in clock ticks.
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
      } catch {
        return null;
      }
    },
    logLines: (pattern) => lines.filter((l) => pattern.test(l)).slice(-200),
    exited: () => exit,
    stop: async () => {
      if (exit !== null) return;
      const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await done;
      clearTimeout(timer);
    },
  };
}
