// The interleaved pgbench -S comparison: direct PostgreSQL, PgBouncer and Gatehouse (with and
// without approve rules) for each client count and query mode, one right after the other, plus
// pgbench -C (a new connection per transaction); each proxy's CPU per transaction from /proc.
import type { ConnectResult, ModeResult, QueryMode, TargetResult } from './bench-results.ts';
import { runPgbench } from './pgbench.ts';
import { microsPerTransaction, startCpuMeter } from './process-cpu.ts';

export interface Target {
  /** Shown in progress lines. */
  label: string;
  url: string;
  env: NodeJS.ProcessEnv;
  /** The proxy process whose CPU is measured (Gatehouse in-process: this process); null for direct. */
  pid: number | null;
}

export interface PgbenchRunSpec {
  clients: number;
  mode: QueryMode;
  seconds: number;
  /** pgbench -C: a new connection for every transaction. */
  connectEach: boolean;
}

/** pgbench's arguments for one select-only run: -j is min(2, clients) (two cores). */
export function pgbenchArgs(spec: PgbenchRunSpec, url: string): string[] {
  return [
    '-S',
    '-n',
    ...(spec.connectEach ? ['-C'] : []),
    '-T',
    String(spec.seconds),
    '-c',
    String(spec.clients),
    '-j',
    String(Math.min(2, spec.clients)),
    '-M',
    spec.mode,
    url,
  ];
}

/** One pgbench run against `target`; for a proxy, also its CPU µs per transaction. */
export async function measureTarget(target: Target, spec: PgbenchRunSpec): Promise<TargetResult> {
  const cpu = target.pid === null ? null : await startCpuMeter(target.pid);
  const run = await runPgbench({
    args: pgbenchArgs(spec, target.url),
    env: { ...process.env, ...target.env },
    killAfterMs: (spec.seconds + 60) * 1000,
  });
  const result: TargetResult = { summary: run.summary, exitCode: run.exitCode, error: run.error };
  if (cpu !== null) result.proxyCpuMicrosPerTransaction = microsPerTransaction(await cpu(), run.summary?.transactions);
  return result;
}

export function describeResult(result: TargetResult): string {
  if (result.summary === null) return `FAILED: ${result.error ?? `exit ${result.exitCode}`}`;
  const { tps, latencyAverageMs, failedTransactions } = result.summary;
  const cpu = result.proxyCpuMicrosPerTransaction;
  return (
    `${tps.toFixed(0)} tps, ${latencyAverageMs.toFixed(3)} ms average latency, ${failedTransactions} failed` +
    (cpu === undefined || cpu === null ? '' : `, ${cpu.toFixed(1)} µs CPU/tx`) +
    (result.exitCode === 0 ? '' : ` (exit ${result.exitCode}: ${result.error ?? ''})`)
  );
}

export interface ComparisonTargets {
  direct: Target;
  pgbouncer: Target;
  gatehouse: Target;
  gatehouseWithoutApprove: Target;
}

/** For each client count, each mode: direct, PgBouncer, Gatehouse, Gatehouse without approve rules. */
export async function runComparison(options: {
  clients: readonly number[];
  modes: readonly QueryMode[];
  seconds: number;
  targets: ComparisonTargets;
  step: (message: string) => void;
}): Promise<ModeResult[]> {
  const { targets, step } = options;
  const results: ModeResult[] = [];
  for (const clients of options.clients) {
    for (const mode of options.modes) {
      const spec: PgbenchRunSpec = { clients, mode, seconds: options.seconds, connectEach: false };
      const run = async (target: Target): Promise<TargetResult> => {
        step(`c=${clients} ${mode}: ${options.seconds}s ${target.label}...`);
        const result = await measureTarget(target, spec);
        step(`c=${clients} ${mode}: ${target.label} ${describeResult(result)}`);
        return result;
      };
      const direct = await run(targets.direct);
      const pgbouncer = await run(targets.pgbouncer);
      const gatehouse = await run(targets.gatehouse);
      const gatehouseWithoutApprove = await run(targets.gatehouseWithoutApprove);
      const ratio =
        direct.summary !== null && gatehouse.summary !== null && direct.summary.tps > 0 ? gatehouse.summary.tps / direct.summary.tps : null;
      results.push({ mode, clients, direct, pgbouncer, gatehouse, ratio, gatehouseWithoutApprove });
    }
  }
  return results;
}

/** pgbench -S -C -M simple for each client count: direct, PgBouncer, Gatehouse, pooled Gatehouse. */
export async function runConnectPerTransaction(options: {
  clients: readonly number[];
  seconds: number;
  targets: { direct: Target; pgbouncer: Target; gatehouse: Target; gatehousePooled: Target };
  step: (message: string) => void;
}): Promise<ConnectResult[]> {
  const { targets, step } = options;
  const results: ConnectResult[] = [];
  for (const clients of options.clients) {
    const spec: PgbenchRunSpec = { clients, mode: 'simple', seconds: options.seconds, connectEach: true };
    const run = async (target: Target): Promise<TargetResult> => {
      step(`-C c=${clients}: ${options.seconds}s ${target.label}...`);
      const result = await measureTarget(target, spec);
      step(`-C c=${clients}: ${target.label} ${describeResult(result)}`);
      return result;
    };
    const direct = await run(targets.direct);
    const pgbouncer = await run(targets.pgbouncer);
    const gatehouse = await run(targets.gatehouse);
    const gatehousePooled = await run(targets.gatehousePooled);
    results.push({ clients, direct, pgbouncer, gatehouse, gatehousePooled });
  }
  return results;
}
