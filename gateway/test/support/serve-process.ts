// A real `gatehouse serve` child for the tests that need the process itself (signals, SIGKILL, its
// standard output): run compiled (bin/gatehouse.js) with a JSON operator log, its output collected.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { withMallocDefaults } from '../../src/build/malloc-defaults.ts';
import { REPO_ROOT } from './harness.ts';
import { waitFor } from './wait-for.ts';

const GATEHOUSE_BIN = join(REPO_ROOT, 'gateway', 'bin', 'gatehouse.js');

/** Generous for a noisy machine (the first start compiles): a test fails at it instead of hanging. */
export const SERVE_START_TIMEOUT_MS = 150_000;

/** One line of the operator log. */
export interface LogLine {
  level: number;
  msg?: string;
}

export interface ServeProcess {
  child: ChildProcessWithoutNullStreams;
  /** The operator log (standard error), a parsed line each; a line that is not JSON as level 60 `unparsed stderr: ...`. */
  logs: LogLine[];
  /** Standard error and standard output so far, as written. */
  stderr(): string;
  stdout(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  hasExited(): boolean;
}

/** Starts `gatehouse serve --config configFile --log-format json` in the repository root, with `env` over this process's and glibc's malloc thresholds as the executable sets them. */
export function spawnServe(configFile: string, env: Record<string, string> = {}): ServeProcess {
  const child = spawn(process.execPath, [GATEHOUSE_BIN, 'serve', '--config', configFile, '--log-format', 'json'], {
    cwd: REPO_ROOT,
    env: withMallocDefaults({ ...process.env, NO_COLOR: '1', ...env }),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const logs: LogLine[] = [];
  let stderr = '';
  let stdout = '';
  let partial = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk;
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line.trim() === '') continue;
      try {
        logs.push(JSON.parse(line) as LogLine);
      } catch {
        logs.push({ level: 60, msg: `unparsed stderr: ${line}` });
      }
    }
  });
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => (stdout += chunk));
  child.stdin.end();
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      done = true;
      resolve({ code, signal });
    });
  });
  return { child, logs, stderr: () => stderr, stdout: () => stdout, exited, hasExited: () => done };
}

/** The port in the first log message matching the pattern, once it has been logged. */
export function loggedPort(logs: LogLine[], pattern: RegExp): number | undefined {
  for (const line of logs) {
    const m = pattern.exec(line.msg ?? '');
    if (m?.[1] !== undefined) return Number(m[1]);
  }
  return undefined;
}

/** The port the child listens on once it has logged it; throws with its log if it exits first. */
export function listeningPort(serve: ServeProcess): Promise<number> {
  return waitFor(
    'gatehouse serve to log its port',
    () => {
      if (serve.hasExited()) throw new Error(`gatehouse serve exited during startup:\n${serve.stderr()}`);
      return loggedPort(serve.logs, /^listening on 127\.0\.0\.1:(\d+) /);
    },
    SERVE_START_TIMEOUT_MS,
  );
}
