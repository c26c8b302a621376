// Runs the pgbench CLI as a child process and reads the numbers out of its summary.
import { spawn } from 'node:child_process';

export interface PgbenchSummary {
  tps: number;
  latencyAverageMs: number;
  transactions: number;
  failedTransactions: number;
  initialConnectionMs: number | null;
}

export interface PgbenchRun {
  exitCode: number;
  summary: PgbenchSummary | null;
  /** The last error line pgbench printed, when it printed one. */
  error: string | null;
  output: string;
}

function number(text: string, pattern: RegExp): number | null {
  const match = pattern.exec(text);
  return match?.[1] === undefined ? null : Number(match[1]);
}

/** Parses pgbench's end-of-run report (PostgreSQL 14+ wording); null when there is none. */
export function parsePgbenchOutput(text: string): PgbenchSummary | null {
  const tps = number(text, /^tps = ([\d.]+)/m);
  const latency = number(text, /^latency average = ([\d.]+) ms/m);
  const transactions = number(text, /^number of transactions actually processed: (\d+)/m);
  if (tps === null || latency === null || transactions === null) return null;
  return {
    tps,
    latencyAverageMs: latency,
    transactions,
    failedTransactions: number(text, /^number of failed transactions: (\d+)/m) ?? 0,
    initialConnectionMs: number(text, /^initial connection time = ([\d.]+) ms/m),
  };
}

/** The first line that looks like an error (pgbench prints the cause first, then a summary). */
export function firstErrorLine(text: string): string | null {
  const line = text.split('\n').find((l) => /error|FATAL|aborted/i.test(l));
  return line?.trim() ?? null;
}

export interface PgbenchOptions {
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** Kill pgbench after this long (it should stop by itself after -T seconds). */
  killAfterMs: number;
}

export function runPgbench(options: PgbenchOptions): Promise<PgbenchRun> {
  return new Promise((resolve, reject) => {
    const child = spawn('pgbench', options.args, { env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.killAfterMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const exitCode = code ?? (signal === null ? 1 : 128);
      resolve({
        exitCode,
        summary: parsePgbenchOutput(output),
        error: exitCode === 0 ? null : (firstErrorLine(output) ?? `pgbench exited with ${signal ?? exitCode}`),
        output,
      });
    });
  });
}
