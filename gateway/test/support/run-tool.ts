// Runs a real PostgreSQL client program (psql, pgbench) to completion and collects its output, for
// integration tests that drive Gatehouse with the tools people actually use.

import { spawn } from 'node:child_process';

export interface ToolResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

export interface ToolOptions {
  /** Extra environment (PGPASSWORD, PGSSLMODE...); PG* variables of the test process are dropped. */
  env?: Record<string, string>;
  stdin?: string | Buffer;
  /** Working directory (default: the test process's). */
  cwd?: string;
  /** Safety net only: a hung tool is killed so the test fails instead of hanging. */
  killAfterMs?: number;
}

export function runTool(command: string, args: string[], options: ToolOptions = {}): Promise<ToolResult> {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PG')));
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: { ...inherited, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', reject);
    const timer = setTimeout(() => child.kill('SIGKILL'), options.killAfterMs ?? 100_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.stdin ?? '');
  });
}

/** A libpq keyword/value connection string for a local Gatehouse listener. */
export function gatewayConninfo(port: number, extra: Record<string, string> = {}): string {
  const params: Record<string, string> = { host: '127.0.0.1', port: String(port), dbname: 'postgres', user: 'agent', sslmode: 'disable', ...extra };
  return Object.entries(params)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

/** psql through Gatehouse: no psqlrc, stop on the first error, the token as password. */
export function psqlVia(port: number, token: string, args: string[], options: ToolOptions & { conninfo?: Record<string, string> } = {}): Promise<ToolResult> {
  return runTool('/usr/bin/psql', ['-X', '-v', 'ON_ERROR_STOP=1', '-d', gatewayConninfo(port, options.conninfo), ...args], {
    ...options,
    env: { PGPASSWORD: token, ...options.env },
  });
}

/** psql straight to the database behind Gatehouse (the reference to compare with). */
export function psqlDirect(url: string, args: string[], options: ToolOptions = {}): Promise<ToolResult> {
  return runTool('/usr/bin/psql', ['-X', '-v', 'ON_ERROR_STOP=1', '-d', url, ...args], options);
}

const GATEHOUSE_BIN = new URL('../../bin/gatehouse.js', import.meta.url).pathname;
const REPOSITORY = new URL('../../..', import.meta.url).pathname;

/** Runs the real `gatehouse` executable with node, as a user would (from the repository root by default). */
export async function runGatehouse(args: string[], options: ToolOptions = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const run = await runTool(process.execPath, [GATEHOUSE_BIN, ...args], {
    cwd: REPOSITORY,
    ...options,
    env: { NO_COLOR: '1', GITHUB_ACTIONS: '', ...options.env },
  });
  return { code: run.code, stdout: run.stdout.toString('utf8'), stderr: run.stderr };
}
