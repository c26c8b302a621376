// The isolation harness (`gatehouse bench --only isolation`): a private PostgreSQL, Gatehouse as a
// child process in front of it, N well-behaved sessions of mixed traffic measured without and
// with one hostile client, RSS sampled throughout. Bounded in sessions and time, loopback only.
// Measures and judges against issue 11's criteria; the caller writes the report.

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { DEV_ALGORITHM, ensureDevKeys, mintDevToken } from '../auth/dev-keys.ts';
import type { EngineKind } from '../policy/types.ts';
import { ensureDatabase, initialisePgbench } from './bench-database.ts';
import { startGatewayProcess, type GatewayProcess } from './gateway-process.ts';
import { HOSTILE_ACTIONS, type HostileAction, type HostileTally } from './hostile-client.ts';
import { startHostileProcess, type HostileProcess } from './hostile-process.ts';
import { judge, type IsolationResults, type LatencyWindow, type PhaseName, type PhaseResult, type RssSample } from './isolation-report.ts';
import { openClient, runSession, type TrafficKind, type TrafficRecorder } from './isolation-traffic.ts';
import { summarize } from './latency-stats.ts';
import { prepareMaskedTable } from './masked-select.ts';
import { startPrivatePostgres, type PrivatePostgres } from './private-postgres.ts';
import { writeSlowPolicyCopy } from './slow-policy.ts';

export const MAX_SESSIONS = 1_000;
export const MAX_PHASE_SECONDS = 900;

export interface IsolationOptions {
  sessions: number;
  warmupSeconds: number;
  phaseSeconds: number;
  thinkMs: number;
  engine: EngineKind;
  /** 'isolation': baseline, hostile, recovery; 'soak': one long phase without the hostile client. */
  mode: 'isolation' | 'soak';
  /** The hostile client's actions (default all; slow-policy only with Rego). */
  hostile?: readonly HostileAction[];
  /** A superuser URL on loopback with enough max_connections; null starts a private PostgreSQL. */
  upstreamUrl: string | null;
  repoRoot: string;
  print: (line: string) => void;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);
const DATABASE = 'gatehouse_isolation';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Collects samples and errors per phase. */
class Recorder implements TrafficRecorder {
  current = 'warmup';
  /** [seconds since start at the end of the statement, ms, phase] of every statement. */
  readonly ended: Array<[number, number, string]> = [];
  constructor(private readonly started: number) {}
  readonly samples = new Map<string, Map<TrafficKind, number[]>>();
  readonly errors = new Map<string, string[]>();
  phase(): string {
    return this.current;
  }
  sample(phase: string, kind: TrafficKind, ms: number): void {
    let byKind = this.samples.get(phase);
    if (!byKind) this.samples.set(phase, (byKind = new Map()));
    let list = byKind.get(kind);
    if (!list) byKind.set(kind, (list = []));
    list.push(ms);
    this.ended.push([(Date.now() - this.started) / 1000, ms, phase]);
  }
  /** Latency per `seconds`-long window of end times. */
  windows(seconds: number): LatencyWindow[] {
    const byWindow = new Map<number, { phase: string; ms: number[] }>();
    for (const [at, ms, phase] of this.ended) {
      const key = Math.floor(at / seconds);
      let w = byWindow.get(key);
      if (!w) byWindow.set(key, (w = { phase, ms: [] }));
      w.ms.push(ms);
    }
    return [...byWindow.entries()]
      .sort(([a], [b]) => a - b)
      .map(([key, w]) => {
        const s = summarize(w.ms);
        return { atSeconds: key * seconds, phase: w.phase, statements: s.count, p99Ms: s.p99Ms, maxMs: s.maxMs };
      });
  }
  error(phase: string, message: string): void {
    let list = this.errors.get(phase);
    if (!list) this.errors.set(phase, (list = []));
    list.push(message);
  }
  result(name: PhaseName, seconds: number): PhaseResult {
    const byKind = this.samples.get(name) ?? new Map<TrafficKind, number[]>();
    const of = (k: TrafficKind): number[] => byKind.get(k) ?? [];
    const errors = this.errors.get(name) ?? [];
    // One sample per distinct message shape (numbers stripped), at most eight.
    const distinct = new Map<string, string>();
    for (const e of errors) if (distinct.size < 8) distinct.set(e.replace(/\d+/g, 'N'), e);
    return {
      name,
      seconds,
      latency: summarize([...of('allowed'), ...of('masked'), ...of('denied')]),
      byKind: { allowed: summarize(of('allowed')), masked: summarize(of('masked')), denied: summarize(of('denied')) },
      errors: errors.length,
      errorSamples: [...distinct.values()],
    };
  }
}

export async function runIsolation(options: IsolationOptions): Promise<IsolationResults> {
  if (options.sessions < 1 || options.sessions > MAX_SESSIONS) throw new Error(`sessions must be 1..${MAX_SESSIONS}`);
  if (options.phaseSeconds < 1 || options.phaseSeconds > MAX_PHASE_SECONDS) throw new Error(`phase seconds must be 1..${MAX_PHASE_SECONDS}`);
  const { print } = options;
  const started = Date.now();
  const elapsed = (): number => (Date.now() - started) / 1000;
  const step = (message: string): void => print(`[isolation ${elapsed().toFixed(1).padStart(6)}s] ${message}`);
  const loadAverageAtStart = os.loadavg();
  const workDir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-isolation-'));
  let privatePg: PrivatePostgres | null = null;
  let gateway: GatewayProcess | null = null;
  let hostileProcess: HostileProcess | null = null;
  const notes: string[] = [];
  try {
    let adminUrl: string;
    if (options.upstreamUrl === null) {
      privatePg = await startPrivatePostgres({ maxConnections: options.sessions + 60, onProgress: step });
      adminUrl = privatePg.url;
    } else {
      const host = new URL(options.upstreamUrl).hostname;
      if (!LOOPBACK.has(host)) throw new Error(`the isolation harness runs on loopback only; --isolation-upstream names ${host}`);
      adminUrl = options.upstreamUrl;
    }
    await ensureDatabase(adminUrl, DATABASE);
    const dbUrl = new URL(adminUrl);
    dbUrl.pathname = `/${DATABASE}`;
    const url = dbUrl.toString();
    step('pgbench -i -s 1 and the masked table...');
    await initialisePgbench(url, 1);
    await prepareMaskedTable(url);

    const keyDir = path.join(workDir, 'keys');
    const keys = await ensureDevKeys(keyDir);
    const wellBehavedToken = await mintDevToken({ keyDir, subject: 'isolation-agent', groups: ['bench', 'bench_masked'], ttlSeconds: 4 * 3600 });
    const hostileToken = await mintDevToken({ keyDir, subject: 'isolation-hostile', groups: ['bench'], ttlSeconds: 4 * 3600 });

    let policiesDir = path.join(options.repoRoot, 'policies', options.engine);
    const chosen = options.hostile ?? HOSTILE_ACTIONS;
    const actions: HostileAction[] = options.mode === 'soak' ? [] : chosen.filter((a) => a !== 'slow-policy');
    if (options.mode === 'isolation' && chosen.includes('slow-policy')) {
      if (options.engine === 'rego') {
        policiesDir = await writeSlowPolicyCopy(policiesDir, path.join(workDir, 'policies'));
        actions.push('slow-policy');
      } else {
        notes.push('no slow-policy statement with Cedar: Cedar policies cannot loop, and no slow Cedar rule is written here.');
      }
    }
    step(`starting Gatehouse (${options.engine}${actions.includes('slow-policy') ? ', with the bench\'s slow rule' : ''}) as a child process...`);
    gateway = await startGatewayProcess({
      repoRoot: options.repoRoot,
      workDir,
      config: {
        listen: { host: '127.0.0.1', port: 0 },
        tls: { mode: 'disable' },
        auth: { issuer: keys.issuer, audience: keys.audience, algorithms: [DEV_ALGORITHM], jwks: { file: keys.jwksPath }, plaintext_password: 'loopback' },
        upstream: { url, pass_database: false },
        policies: { engine: options.engine, directory: policiesDir },
        audit: { file: path.join(workDir, 'audit.ndjson') },
      },
    });
    const gw = gateway;
    step(`Gatehouse pid ${gw.pid} on 127.0.0.1:${gw.port}`);
    const clientConfig = (token: string): pg.ClientConfig => ({
      host: '127.0.0.1',
      port: gw.port,
      user: 'bench',
      database: DATABASE,
      password: token,
      connectionTimeoutMillis: 60_000,
    });
    const connectWellBehaved = (): Promise<pg.Client> => openClient(clientConfig(wellBehavedToken));

    const rss: RssSample[] = [];
    const recorder = new Recorder(started);
    const sampleRss = async (): Promise<number | null> => {
      const bytes = await gw.rssBytes();
      if (bytes === null) return null;
      const mib = bytes / (1024 * 1024);
      rss.push({ atSeconds: elapsed(), phase: recorder.current, rssMiB: mib });
      return mib;
    };
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        await sampleRss();
        await sleep(1_000);
      }
    })();

    step(`connecting ${options.sessions} sessions...`);
    const connectStarted = Date.now();
    const clients: pg.Client[] = [];
    for (let i = 0; i < options.sessions; i += 25) {
      const batch = Array.from({ length: Math.min(25, options.sessions - i) }, () => connectWellBehaved());
      clients.push(...(await Promise.all(batch)));
    }
    const connectSeconds = (Date.now() - connectStarted) / 1000;
    step(`${clients.length} sessions connected in ${connectSeconds.toFixed(1)} s`);

    let running = true;
    const sessions = clients.map((client, index) =>
      runSession({ index, connect: connectWellBehaved, thinkMs: options.thinkMs, running: () => running, recorder }, client),
    );

    step(`warm-up ${options.warmupSeconds} s...`);
    // The hostile client gets a process of its own, started (TypeScript loaded) before measuring.
    hostileProcess = actions.length === 0 ? null : await startHostileProcess();
    await sleep(options.warmupSeconds * 1000);
    const rssBeforeMiB = await sampleRss();
    const phaseNames: PhaseName[] = options.mode === 'soak' ? ['soak'] : ['baseline', 'hostile', 'recovery'];
    let hostile: HostileTally[] = [];
    const cpuByPhase = new Map<string, number | null>();
    for (const name of phaseNames) {
      recorder.current = name;
      const cpuBefore = await gw.cpuSeconds();
      const seconds = name === 'recovery' ? Math.max(1, Math.round(options.phaseSeconds / 2)) : options.phaseSeconds;
      step(`${name}: ${seconds} s...`);
      if (name === 'hostile') {
        // In its own process, so that sending its messages does not delay this one's timers.
        const hostileRun = hostileProcess === null ? Promise.resolve([]) : hostileProcess.run({ actions, client: clientConfig(hostileToken), seconds, pauseMs: 200 });
        hostileRun.catch(() => undefined); // a failure is thrown below, after the phase
        await sleep(seconds * 1000);
        recorder.current = 'hostile-overrun'; // the last hostile action may run past the phase: not measured
        cpuByPhase.set(name, subtract(await gw.cpuSeconds(), cpuBefore));
        hostile = await hostileRun;
      } else {
        await sleep(seconds * 1000);
        cpuByPhase.set(name, subtract(await gw.cpuSeconds(), cpuBefore));
      }
      const r = { ...recorder.result(name, seconds), gatewayCpuSeconds: cpuByPhase.get(name) ?? null };
      step(`${name}: ${r.latency.count} statements, p50 ${r.latency.p50Ms?.toFixed(2)} ms, p99 ${r.latency.p99Ms?.toFixed(2)} ms, max ${r.latency.maxMs?.toFixed(0)} ms, ${r.errors} errors; RSS ${rss.at(-1)?.rssMiB.toFixed(0) ?? 'n/a'} MiB; gateway CPU ${r.gatewayCpuSeconds?.toFixed(1) ?? 'n/a'} s`);
    }
    const rssAfterMiB = await sampleRss();
    recorder.current = 'closing';
    running = false;
    await Promise.all(sessions);
    step('sessions closed; letting the gateway settle 5 s...');
    await sleep(5_000);
    const rssIdleMiB = await sampleRss();
    sampling = false;
    await sampler;

    const phases = phaseNames.map((name) => ({
      ...recorder.result(name, name === 'recovery' ? Math.max(1, Math.round(options.phaseSeconds / 2)) : options.phaseSeconds),
      gatewayCpuSeconds: cpuByPhase.get(name) ?? null,
    }));
    const exit = gw.exited();
    const gatewayExit = exit === null ? null : `exit code ${exit.code ?? '-'}, signal ${exit.signal ?? '-'}`;
    return {
      generatedAt: new Date().toISOString(),
      settings: {
        sessions: options.sessions,
        warmupSeconds: options.warmupSeconds,
        phaseSeconds: options.phaseSeconds,
        thinkMs: options.thinkMs,
        engine: options.engine,
        hostileActions: actions,
        notes,
        upstream: privatePg === null ? 'the given server' : `a private PostgreSQL started for the run (max_connections ${options.sessions + 60})`,
      },
      machine: { nproc: os.availableParallelism(), loadAverageAtStart, loadAverageAtEnd: os.loadavg() },
      connectSeconds,
      phases,
      hostile,
      rss,
      windows: recorder.windows(5),
      rssBeforeMiB,
      rssAfterMiB,
      rssIdleMiB,
      gatewayExit,
      gatewayLog: gw.logLines(/snapshot|error|ended|WARNING|fatal|heap/i),
      verdict: judge(phases, rssBeforeMiB, rssAfterMiB, gatewayExit),
    };
  } finally {
    hostileProcess?.stop();
    await gateway?.stop().catch((e: unknown) => print(`gateway stop failed: ${String(e)}`));
    await privatePg?.stop().catch((e: unknown) => print(`private PostgreSQL stop failed: ${String(e)}`));
    await rm(workDir, { recursive: true, force: true });
  }
}

const subtract = (after: number | null, before: number | null): number | null => (after === null || before === null ? null : after - before);
