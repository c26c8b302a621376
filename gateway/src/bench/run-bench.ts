// `gatehouse bench`: pgbench -S directly against PostgreSQL, through PgBouncer and through an
// in-process Gatehouse, client count by client count and mode by mode in the same run, Gatehouse's
// memory with many sessions, written to bench-results/latest.{md,json}. Measures; the report judges.
import { rmSync } from 'node:fs';
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
import type { BenchResults, ConnectResult, ModeResult, QueryMode, SessionMemory } from './bench-results.ts';
import { describeResult, measureTarget, runComparison, runConnectPerTransaction, type Target } from './pgbench-comparison.ts';
import { pgbouncerVersion, startPgbouncer, type RunningPgbouncer } from './pgbouncer.ts';
import { measureSessionMemory } from './session-memory.ts';
import { stopOnExit } from './stop-on-exit.ts';
import { measureDecisionTimings, type DecisionTiming } from './decision-timing.ts';
import { describePgbenchDecisions, measurePgbenchDecisions, PGBENCH_DECISIONS, type PgbenchDecisionTiming } from './pgbench-decision-timing.ts';
import { measureActivationTimings } from './activation-timing.ts';
import { MASK_VARIANTS, describeImplementation, measureMaskedSelect, prepareMaskedTable, type MaskedSelectTiming } from './masked-select.ts';
import type { ActivationTiming } from './activation-timing.ts';
import { discardingAuditSink, measureAuditDurability, type AuditDurabilityTiming, type AuditSetting } from './audit-durability.ts';
import { runIsolation, type IsolationOptions } from './run-isolation.ts';
import { copyWithoutApproveRules } from './without-approve.ts';
import type { IsolationResults } from './isolation-report.ts';

export interface BenchOptions {
  seconds: number;
  warmupSeconds: number;
  /** pgbench -c of each run, in order (e.g. 8 and 32). */
  clients: number[];
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
  /** Seconds of each pgbench -C run (a new connection per transaction), per client count; 0 skips them. */
  connectSeconds: number;
  /** Client sessions held open through a Gatehouse child process to read its RSS; 0 skips it. */
  memorySessions: number;
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
  const threads = Math.min(2, Math.max(...options.clients));
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
      loadAverageAtEnd: os.loadavg(),
      node: process.version,
      platform: `${os.type()} ${os.release()} ${os.arch()}`,
      postgres: await serverVersion(options.upstreamUrl).catch(() => 'unknown'),
      pgbench: await pgbenchVersion().catch(() => 'unknown'),
      ...(options.pgbench ? { pgbouncer: await pgbouncerVersion().catch(() => 'unknown') } : {}),
    },
    settings: {
      seconds: options.seconds,
      warmupSeconds: options.warmupSeconds,
      clients: options.clients,
      connectSeconds: options.connectSeconds,
      threads,
      scale: options.scale,
      engine: options.engine,
      script: '-S',
      audit: 'NDJSON file, fdatasync before forwarding',
    },
    results: measured?.results ?? [],
    connectPerTransaction: measured?.connectPerTransaction ?? [],
    memory: measured?.memory ?? null,
    decisions: measured?.decisions ?? [],
    pgbenchDecisions: measured?.pgbenchDecisions ?? [],
    activation: measured?.activation ?? [],
    masking: measured?.masking ?? null,
    auditDurability: measured?.auditDurability ?? null,
    isolation,
  };
  const soak = options.isolation?.mode === 'soak';
  const written = await writeResults(options.outDir, document, soak ? 'soak' : 'latest');
  step(`wrote ${shortPath(written.markdown)} and ${shortPath(written.json)}`);
  const allRan =
    (measured?.results ?? []).every((r) => [r.direct, r.pgbouncer, r.gatehouse].every((t) => t?.summary !== null)) &&
    (measured?.connectPerTransaction ?? []).every((r) => [r.direct, r.pgbouncer, r.gatehouse, r.gatehousePooled].every((t) => t.summary !== null));
  return allRan && (isolation === null || isolation.gatewayExit === null) ? 0 : 1;
}

interface PgbenchParts {
  results: ModeResult[];
  connectPerTransaction: ConnectResult[];
  memory: SessionMemory | null;
  decisions: DecisionTiming[];
  pgbenchDecisions: PgbenchDecisionTiming[];
  activation: ActivationTiming[];
  masking: MaskedSelectTiming | null;
  auditDurability: AuditDurabilityTiming | null;
}

/** pgbench directly, through PgBouncer and through an in-process Gatehouse; memory, masking, decision and activation timings. */
async function measurePgbenchParts(options: BenchOptions, step: (message: string) => void): Promise<PgbenchParts | 'failed'> {
  const { print } = options;
  const mostClients = Math.max(...options.clients);
  const upstream = new URL(options.upstreamUrl);
  const database = decodeURIComponent(upstream.pathname.replace(/^\//, '')) || 'gatehouse_bench';
  step(`preparing database ${database} on ${upstream.host}...`);
  if (await ensureDatabase(options.upstreamUrl, database)) step(`created database ${database}`);
  step(`pgbench -i -s ${options.scale}...`);
  await initialisePgbench(options.upstreamUrl, options.scale);
  step('a 100,000-row table and the masking functions for the masking measurement...');
  const keyedHash = describeImplementation(await prepareMaskedTable(options.upstreamUrl));
  step(`keyed hash computed by ${keyedHash}`);

  const workDir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-bench-'));
  const forgetWorkDir = stopOnExit(() => rmSync(workDir, { recursive: true, force: true }));
  let gateway: RunningGateway | null = null;
  const auditGateways: RunningGateway[] = [];
  let gatewayWithoutApprove: RunningGateway | null = null;
  let gatewayPooled: RunningGateway | null = null;
  let pgbouncer: RunningPgbouncer | null = null;
  try {
    pgbouncer = await startPgbouncer({
      upstreamUrl: options.upstreamUrl,
      database,
      // Session mode: one server connection per client; every run's clients must fit.
      poolSize: mostClients,
      maxClients: mostClients + 50,
      repoRoot: REPO_ROOT,
      onProgress: step,
    });
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
    // The gateways run in this process: their CPU is this process's (all threads, the policy
    // evaluation workers included); pgbench is a child process and not counted.
    const inProcess = (label: string, g: RunningGateway): Target => ({ label, url: gatewayUrl(g), env: { PGPASSWORD: token }, pid: process.pid });
    const direct: Target = { label: 'direct', url: options.upstreamUrl, env: {}, pid: null };
    const viaPgbouncer: Target = { label: 'PgBouncer', url: pgbouncer.url, env: { PGPASSWORD: pgbouncer.password }, pid: pgbouncer.pid };
    const viaGatehouse = inProcess('Gatehouse', gateway);
    const withoutApprove = inProcess('Gatehouse without approve rules', gatewayWithoutApprove);

    if (options.warmupSeconds > 0) {
      for (const target of [direct, viaPgbouncer, viaGatehouse, withoutApprove]) {
        step(`warm-up: ${options.warmupSeconds}s ${target.label}`);
        const warmup = await measureTarget(target, { clients: mostClients, mode: 'simple', seconds: options.warmupSeconds, connectEach: false });
        // A target that cannot run at all would fail every mode the same way: stop here instead.
        if (warmup.summary === null) {
          step(`warm-up ${target.label} FAILED: ${warmup.error ?? `exit ${warmup.exitCode}`}; no results written`);
          return 'failed';
        }
      }
    }

    const results = await runComparison({
      clients: options.clients,
      modes: options.modes,
      seconds: options.seconds,
      targets: { direct, pgbouncer: viaPgbouncer, gatehouse: viaGatehouse, gatehouseWithoutApprove: withoutApprove },
      step,
    });

    let connectPerTransaction: ConnectResult[] = [];
    if (options.connectSeconds > 0) {
      // pgbench -C through a Gatehouse with upstream.pool as well: logins take a pooled, reset
      // connection instead of opening one. Sized for the most clients; idle ones go back soon,
      // since the bench shares PostgreSQL's max_connections.
      gatewayPooled = await startGateway(
        configFromObject(
          {
            ...document,
            audit: { file: path.join(workDir, 'audit-pooled.ndjson') },
            upstream: { ...document.upstream, pool: { mode: 'session', max_connections: mostClients + 4, idle_timeout_s: 2, acquire_timeout_ms: 30_000 } },
          },
          workDir,
        ),
        { onInfo: (message) => step(`gatehouse (pooled): ${message}`) },
      );
      connectPerTransaction = await runConnectPerTransaction({
        clients: options.clients,
        seconds: options.connectSeconds,
        targets: { direct, pgbouncer: viaPgbouncer, gatehouse: viaGatehouse, gatehousePooled: inProcess('Gatehouse with upstream.pool', gatewayPooled) },
        step,
      });
    }
    await pgbouncer.stop();
    pgbouncer = null;

    let memory: SessionMemory | null = null;
    if (options.memorySessions > 0) {
      step(`memory: a private PostgreSQL and Gatehouse as a child process, ${options.memorySessions} sessions...`);
      try {
        memory = await measureSessionMemory({ sessions: options.memorySessions, engine: options.engine, repoRoot: REPO_ROOT, step });
      } catch (e) {
        step(`memory: FAILED: ${e instanceof Error ? e.message : String(e)}`);
      }
    }

    let masking: MaskedSelectTiming | null = null;
    try {
      const maskedTokens = await Promise.all(MASK_VARIANTS.map((v) => mintDevToken({ keyDir, subject: `bench-masked-${v.group}`, groups: ['bench', v.group], ttlSeconds: 3600 })));
      masking = { ...(await measureMaskedSelect({ gatewayUrl: viaGatehouse.url, unmaskedToken: token, maskedTokens, passes: 3, transactions: 5 })), keyedHash };
      const timing = masking;
      step(
        `masking at the source: unmasked ${timing.unmaskedMs.map((x) => x.toFixed(0)).join('/')} ms per SELECT; ` +
          timing.variants.map((v) => `${v.label} ${v.maskedMs.map((x) => x.toFixed(0)).join('/')} ms (${v.ratio?.toFixed(2) ?? 'n/a'}×)`).join('; '),
      );
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
        unsynced: inProcess('Gatehouse, audit unsynced', unsynced),
        none: inProcess('Gatehouse, no audit', none),
      };
      auditDurability = await measureAuditDurability({
        mode: 'prepared',
        seconds: options.seconds,
        rounds: options.auditRounds,
        run: (setting, mode, seconds) => measureTarget(targets[setting], { clients: options.clients[0]!, mode: mode as QueryMode, seconds, connectEach: false }),
        onRun: (run) => step(`audit ${run.setting}, round ${run.round + 1}: ${describeResult(run.result)}`),
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
    const pgbenchDecisions = await measurePgbenchDecisions({
      policiesRoot: path.join(REPO_ROOT, 'policies'),
      buildDir: path.join(workDir, 'policy-build'),
      engines: ['rego', 'cedar'],
      decisions: PGBENCH_DECISIONS,
    });
    for (const line of describePgbenchDecisions(pgbenchDecisions)) step(line);

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

    return { results, connectPerTransaction, memory, decisions, pgbenchDecisions, activation, masking, auditDurability };
  } finally {
    await pgbouncer?.stop().catch((e: unknown) => print(`PgBouncer stop failed: ${String(e)}`));
    for (const g of [gateway, gatewayWithoutApprove, gatewayPooled, ...auditGateways]) await g?.close().catch((e: unknown) => print(`gateway close failed: ${String(e)}`));
    await rm(workDir, { recursive: true, force: true });
    forgetWorkDir();
  }
}


/** Relative to the working directory when inside it, absolute otherwise. */
function shortPath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative.startsWith('..') || path.isAbsolute(relative) ? path.resolve(file) : relative;
}
