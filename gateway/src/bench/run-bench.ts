// `gatehouse bench`: pgbench -S directly against PostgreSQL and through an in-process Gatehouse,
// mode by mode in the same run, written to bench-results/latest.{md,json}. Measures; never judges.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EngineKind } from '../policy/types.ts';
import { DEV_ALGORITHM, ensureDevKeys, mintDevToken } from '../auth/dev-keys.ts';
import { configFromObject } from '../config/load.ts';
import { startGateway } from '../server.ts';
import type { RunningGateway } from '../server.ts';
import { ensureDatabase, initialisePgbench, pgbenchVersion, serverVersion } from './bench-database.ts';
import { writeResults } from './bench-report.ts';
import type { BenchResults, ModeResult, QueryMode, TargetResult } from './bench-report.ts';
import { runPgbench } from './pgbench.ts';
import { measureDecisionTimings, type DecisionTiming } from './decision-timing.ts';
import { measureActivationTimings } from './activation-timing.ts';
import { measureMaskedSelect, prepareMaskedTable, type MaskedSelectTiming } from './masked-select.ts';
import type { ActivationTiming } from './activation-timing.ts';
import { discardingAuditSink, measureAuditDurability, type AuditDurabilityTiming, type AuditSetting } from './audit-durability.ts';
import { runIsolation, type IsolationOptions } from './run-isolation.ts';
import { copyWithoutApproveRules } from './without-approve.ts';
import type { IsolationResults } from './isolation-report.ts';

export interface BenchOptions {
  seconds: number;
  warmupSeconds: number;
  clients: number;
  modes: QueryMode[];
  engine: EngineKind;
  /** Superuser URL of the PostgreSQL to measure; its database is created when absent. */
  upstreamUrl: string;
  scale: number;
  /** Passes over the example decision corpus when timing each engine's evaluations. */
  decisionRounds: number;
  /** Rounds of pgbench -S -M prepared with durable, unsynced and no audit; 0 skips it. */
  auditRounds: number;
  /** Commits per engine when timing policy activation from git; 0 skips it. */
  activationCommits: number;
  outDir: string;
  /** Run the pgbench comparison, decision and activation timings (false: --only isolation). */
  pgbench: boolean;
  /** The isolation harness (bench/run-isolation.ts), or null to skip it. */
  isolation: Omit<IsolationOptions, 'repoRoot' | 'print' | 'engine'> | null;
  print: (line: string) => void;
}

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export async function runBench(options: BenchOptions): Promise<number> {
  const { print } = options;
  const started = Date.now();
  const step = (message: string): void => print(`[bench ${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s] ${message}`);
  const threads = Math.min(2, options.clients);
  const loadAverageAtStart = os.loadavg();
  const measured = options.pgbench ? await measurePgbenchParts(options, step) : null;
  if (measured === 'failed') return 1;
  let isolation: IsolationResults | null = null;
  if (options.isolation !== null) {
    step(`isolation harness: ${options.isolation.sessions} sessions, ${options.isolation.mode}...`);
    isolation = await runIsolation({ ...options.isolation, engine: options.engine, repoRoot: REPO_ROOT, print });
    step(`isolation harness: ${isolation.verdict.passed ? 'PASS' : 'FAIL'} against issue 11's criteria`);
  }
  const document: BenchResults = {
    generatedAt: new Date().toISOString(),
    machine: {
      nproc: os.availableParallelism(),
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      loadAverageAtStart,
      node: process.version,
      platform: `${os.type()} ${os.release()} ${os.arch()}`,
      postgres: await serverVersion(options.upstreamUrl).catch(() => 'unknown'),
      pgbench: await pgbenchVersion().catch(() => 'unknown'),
    },
    settings: {
      seconds: options.seconds,
      warmupSeconds: options.warmupSeconds,
      clients: options.clients,
      threads,
      scale: options.scale,
      engine: options.engine,
      script: '-S',
      audit: 'NDJSON file, fdatasync before forwarding',
    },
    results: measured?.results ?? [],
    decisions: measured?.decisions ?? [],
    activation: measured?.activation ?? [],
    masking: measured?.masking ?? null,
    auditDurability: measured?.auditDurability ?? null,
    isolation,
  };
  const soak = options.isolation?.mode === 'soak';
  const written = await writeResults(options.outDir, document, soak ? 'soak' : 'latest');
  step(`wrote ${shortPath(written.markdown)} and ${shortPath(written.json)}`);
  const allRan = (measured?.results ?? []).every((r) => r.direct.summary !== null && r.gatehouse.summary !== null);
  return allRan && (isolation === null || isolation.gatewayExit === null) ? 0 : 1;
}

interface PgbenchParts {
  results: ModeResult[];
  decisions: DecisionTiming[];
  activation: ActivationTiming[];
  masking: MaskedSelectTiming | null;
  auditDurability: AuditDurabilityTiming | null;
}

/** pgbench directly and through an in-process Gatehouse, masking, decision and activation timings. */
async function measurePgbenchParts(options: BenchOptions, step: (message: string) => void): Promise<PgbenchParts | 'failed'> {
  const { print } = options;
  const threads = Math.min(2, options.clients);
  const upstream = new URL(options.upstreamUrl);
  const database = decodeURIComponent(upstream.pathname.replace(/^\//, '')) || 'gatehouse_bench';
  step(`preparing database ${database} on ${upstream.host}...`);
  if (await ensureDatabase(options.upstreamUrl, database)) step(`created database ${database}`);
  step(`pgbench -i -s ${options.scale}...`);
  await initialisePgbench(options.upstreamUrl, options.scale);
  step('a 100,000-row table and the masking functions for the masking measurement...');
  await prepareMaskedTable(options.upstreamUrl);

  const workDir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-bench-'));
  let gateway: RunningGateway | null = null;
  const auditGateways: RunningGateway[] = [];
  let gatewayWithoutApprove: RunningGateway | null = null;
  try {
    const keyDir = path.join(workDir, 'keys');
    const keys = await ensureDevKeys(keyDir);
    // Long enough for every run; pgbench reconnects nothing mid-run, but warm-ups and modes add up.
    const token = await mintDevToken({ keyDir, subject: 'bench', groups: ['bench'], ttlSeconds: 4 * 3600 });
    const auditFile = path.join(workDir, 'audit.ndjson');
    const document = {
      listen: { host: '127.0.0.1', port: 0 },
      tls: { mode: 'disable' },
      auth: {
        issuer: keys.issuer,
        audience: keys.audience,
        algorithms: [DEV_ALGORITHM],
        jwks: { file: keys.jwksPath },
        plaintext_password: 'loopback',
      },
      upstream: { url: options.upstreamUrl, pass_database: false },
      policies: { engine: options.engine, directory: path.join(REPO_ROOT, 'policies', options.engine) },
      audit: { file: auditFile } as Record<string, unknown>,
    };
    const configWith = (audit: Record<string, unknown>) => configFromObject({ ...document, audit }, workDir);
    const config = configWith({ file: auditFile });
    step(`starting Gatehouse in-process (${options.engine} policies, audit to a temporary file)...`);
    gateway = await startGateway(config, { onInfo: (message) => step(`gatehouse: ${message}`) });
    step(`Gatehouse listening on ${gateway.host}:${gateway.port}`);
    // The same policies without their approve rules, in a second gateway: what approve rules cost
    // statements that need no approval (docs/benchmarks.md).
    const noApproveDir = path.join(workDir, 'policies-without-approve');
    const removed = await copyWithoutApproveRules(options.engine, path.join(REPO_ROOT, 'policies', options.engine), noApproveDir);
    gatewayWithoutApprove = await startGateway(
      configFromObject(
        { ...document, audit: { file: path.join(workDir, 'audit-without-approve.ndjson') }, policies: { engine: options.engine, directory: noApproveDir } },
        workDir,
      ),
      { onInfo: (message) => step(`gatehouse (without approve rules): ${message}`) },
    );
    step(`Gatehouse without the policy's ${removed} approve rule(s) listening on ${gatewayWithoutApprove.host}:${gatewayWithoutApprove.port}`);

    const gatewayUrl = (g: RunningGateway): string => `postgresql://bench@${g.host}:${g.port}/${encodeURIComponent(database)}?sslmode=disable`;
    const direct: Target = { name: 'direct', url: options.upstreamUrl, env: {} };
    const viaGatehouse: Target = {
      name: 'gatehouse',
      url: gatewayUrl(gateway),
      env: { PGPASSWORD: token },
    };
    const withoutApprove: Target = {
      name: 'gatehouse',
      url: `postgresql://bench@${gatewayWithoutApprove.host}:${gatewayWithoutApprove.port}/${encodeURIComponent(database)}?sslmode=disable`,
      env: { PGPASSWORD: token },
    };
    const pgbench = (target: Target, mode: QueryMode, seconds: number): Promise<TargetResult> =>
      measure(target, ['-S', '-n', '-T', String(seconds), '-c', String(options.clients), '-j', String(threads), '-M', mode, target.url]);

    if (options.warmupSeconds > 0) {
      for (const target of [direct, viaGatehouse, withoutApprove]) {
        step(`warm-up: ${options.warmupSeconds}s ${target.name}`);
        const warmup = await pgbench(target, 'simple', options.warmupSeconds);
        // A target that cannot run at all would fail every mode the same way: stop here instead.
        if (warmup.summary === null) {
          step(`warm-up ${target.name} FAILED: ${warmup.error ?? `exit ${warmup.exitCode}`}; no results written`);
          return 'failed';
        }
      }
    }

    const results: ModeResult[] = [];
    for (const mode of options.modes) {
      step(`${mode}: ${options.seconds}s direct...`);
      const directResult = await pgbench(direct, mode, options.seconds);
      step(`${mode}: direct ${describe(directResult)}`);
      step(`${mode}: ${options.seconds}s through Gatehouse...`);
      const gatehouseResult = await pgbench(viaGatehouse, mode, options.seconds);
      step(`${mode}: Gatehouse ${describe(gatehouseResult)}`);
      step(`${mode}: ${options.seconds}s through Gatehouse without approve rules...`);
      const withoutApproveResult = await pgbench(withoutApprove, mode, options.seconds);
      step(`${mode}: Gatehouse without approve rules ${describe(withoutApproveResult)}`);
      const ratio =
        directResult.summary !== null && gatehouseResult.summary !== null && directResult.summary.tps > 0
          ? gatehouseResult.summary.tps / directResult.summary.tps
          : null;
      results.push({ mode, direct: directResult, gatehouse: gatehouseResult, ratio, gatehouseWithoutApprove: withoutApproveResult });
    }

    let masking: MaskedSelectTiming | null = null;
    try {
      const maskedToken = await mintDevToken({ keyDir, subject: 'bench-masked', groups: ['bench', 'bench_masked'], ttlSeconds: 3600 });
      masking = await measureMaskedSelect({ gatewayUrl: viaGatehouse.url, unmaskedToken: token, maskedToken, passes: 3, transactions: 5 });
      step(`masking at the source: masked ${masking.maskedMs.map((x) => x.toFixed(0)).join('/')} ms vs unmasked ${masking.unmaskedMs.map((x) => x.toFixed(0)).join('/')} ms per SELECT (${masking.ratio?.toFixed(2) ?? 'n/a'}×)`);
    } catch (e) {
      step(`masking at the source: FAILED: ${e instanceof Error ? e.message : String(e)}`);
    }

    let auditDurability: AuditDurabilityTiming | null = null;
    if (options.auditRounds > 0) {
      step('audit durability: two more Gatehouse instances, audit to a file without fdatasync and no audit...');
      const unsynced = await startGateway(configWith({ file: path.join(workDir, 'audit-unsynced.ndjson'), fsync: false }), {});
      auditGateways.push(unsynced);
      const none = await startGateway(configWith({ file: path.join(workDir, 'audit-unused.ndjson') }), { audit: discardingAuditSink() });
      auditGateways.push(none);
      const targets: Record<AuditSetting, Target> = {
        durable: viaGatehouse,
        unsynced: { ...viaGatehouse, url: gatewayUrl(unsynced) },
        none: { ...viaGatehouse, url: gatewayUrl(none) },
      };
      auditDurability = await measureAuditDurability({
        mode: 'prepared',
        seconds: options.seconds,
        rounds: options.auditRounds,
        run: (setting, mode, seconds) => pgbench(targets[setting], mode as QueryMode, seconds),
        onRun: (run) => step(`audit ${run.setting}, round ${run.round + 1}: ${describe(run.result)}`),
      });
      const cost = auditDurability.durableCost;
      step(`audit durability: durable costs ${cost === null ? 'n/a' : `${(cost * 100).toFixed(1)}%`} of unsynced throughput`);
    }

    step(`timing policy decisions (${options.decisionRounds} passes over the example corpus, both engines)...`);
    const decisions = await measureDecisionTimings({
      policiesRoot: path.join(REPO_ROOT, 'policies'),
      buildDir: path.join(workDir, 'policy-build'),
      engines: ['rego', 'cedar'],
      rounds: options.decisionRounds,
    });
    for (const d of decisions) step(`${d.engine}: median ${d.medianMicros.toFixed(1)} µs, p99 ${d.p99Micros.toFixed(1)} µs per decision`);

    let activation: ActivationTiming[] = [];
    if (options.activationCommits > 0) {
      step(`timing policy activation from git (${options.activationCommits} commits per engine, POST /policy/refresh each)...`);
      activation = await measureActivationTimings({
        projectRoot: REPO_ROOT,
        workDir: path.join(workDir, 'activation'),
        engines: ['rego', 'cedar'],
        commits: options.activationCommits,
        upstreamUrl: options.upstreamUrl,
        keys,
        onProgress: step,
      });
      for (const a of activation) {
        step(`${a.engine}: commit to active policy median ${a.medianMs === null ? 'n/a' : a.medianMs.toFixed(0)} ms, max ${a.maxMs === null ? 'n/a' : a.maxMs.toFixed(0)} ms (${a.samplesMs.length}/${a.commits} activated)`);
      }
    }

    return { results, decisions, activation, masking, auditDurability };
  } finally {
    for (const g of [gateway, gatewayWithoutApprove, ...auditGateways]) await g?.close().catch((e: unknown) => print(`gateway close failed: ${String(e)}`));
    await rm(workDir, { recursive: true, force: true });
  }

  /** One pgbench run; for Gatehouse, also the gateway's CPU time per transaction. */
  async function measure(target: Target, args: string[]): Promise<TargetResult> {
    const seconds = Number(args[args.indexOf('-T') + 1]);
    const cpuBefore = process.cpuUsage();
    const run = await runPgbench({ args, env: { ...process.env, ...target.env }, killAfterMs: (seconds + 60) * 1000 });
    const cpu = process.cpuUsage(cpuBefore);
    const result: TargetResult = { summary: run.summary, exitCode: run.exitCode, error: run.error };
    if (target.name === 'gatehouse') {
      const transactions = run.summary?.transactions ?? 0;
      result.gatewayCpuMicrosPerTransaction = transactions > 0 ? (cpu.user + cpu.system) / transactions : null;
    }
    return result;
  }
}

interface Target {
  name: 'direct' | 'gatehouse';
  url: string;
  env: NodeJS.ProcessEnv;
}

function describe(result: TargetResult): string {
  if (result.summary === null) return `FAILED: ${result.error ?? `exit ${result.exitCode}`}`;
  const { tps, latencyAverageMs, failedTransactions } = result.summary;
  return `${tps.toFixed(0)} tps, ${latencyAverageMs.toFixed(3)} ms average latency, ${failedTransactions} failed${result.exitCode === 0 ? '' : ` (exit ${result.exitCode}: ${result.error ?? ''})`}`;
}

/** Relative to the working directory when inside it, absolute otherwise. */
function shortPath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative.startsWith('..') || path.isAbsolute(relative) ? path.resolve(file) : relative;
}
