// The shape of the benchmark's result document (bench-results/latest.json), shared by the harness
// that fills it and the report that renders it.
import type { ActivationTiming } from './activation-timing.ts';
import type { AuditDurabilityTiming } from './audit-durability.ts';
import type { DecisionTiming } from './decision-timing.ts';
import type { PgbenchDecisionTiming } from './pgbench-decision-timing.ts';
import type { IsolationResults } from './isolation-report.ts';
import type { MaskedSelectTiming } from './masked-select.ts';
import type { PgbenchSummary } from './pgbench.ts';

export type QueryMode = 'simple' | 'extended' | 'prepared';
export const QUERY_MODES: readonly QueryMode[] = ['simple', 'extended', 'prepared'];

/** The most client sessions the memory measurement opens. */
export const MAX_MEMORY_SESSIONS = 2_000;

export interface TargetResult {
  summary: PgbenchSummary | null;
  exitCode: number;
  error: string | null;
  /**
   * Proxies only (Gatehouse, PgBouncer): CPU the proxy process spent per transaction, in
   * microseconds (utime + stime from /proc/<pid>/stat before and after the run).
   */
  proxyCpuMicrosPerTransaction?: number | null;
}

/** One pgbench -S run per target at one client count and query mode, taken one after the other. */
export interface ModeResult {
  mode: QueryMode;
  /** pgbench -c (absent in results from before the bench took a list of client counts). */
  clients?: number;
  direct: TargetResult;
  /** PgBouncer in session mode, the reference (absent in results from before it was measured). */
  pgbouncer?: TargetResult;
  gatehouse: TargetResult;
  /** Gatehouse TPS / direct TPS, when both runs produced numbers. */
  ratio: number | null;
  /**
   * Through a second Gatehouse whose policy is the same without its approve rules (run right after
   * `gatehouse`): what approve rules cost statements that need no approval. Absent in older results.
   */
  gatehouseWithoutApprove?: TargetResult;
}

/** pgbench -S -C (a new connection for every transaction), simple mode, per target. */
export interface ConnectResult {
  clients: number;
  direct: TargetResult;
  pgbouncer: TargetResult;
  /** Gatehouse as configured for the main runs: one upstream connection per client session. */
  gatehouse: TargetResult;
  /** Gatehouse with `upstream.pool` (session pooling of upstream connections). */
  gatehousePooled: TargetResult;
}

/** Gatehouse's resident memory idle and with many client sessions open, and how fast they opened. */
export interface SessionMemory {
  /** What Gatehouse's upstream was (e.g. a private PostgreSQL and its max_connections). */
  upstream: string;
  /** VmRSS of the `gatehouse serve` process after start, before any session. */
  idleRssBytes: number | null;
  /** Its child processes then, with their VmRSS (not in idleRssBytes); absent in results before 2026-12-08. */
  idleChildren?: { command: string; rssBytes: number }[];
  /** Sessions asked for, and how many were open at once when RSS was read. */
  sessions: number;
  opened: number;
  /** Logins in flight at once while opening them. */
  concurrency: number;
  rssWithSessionsBytes: number | null;
  /** VmRSS a few seconds after all sessions closed. */
  rssAfterCloseBytes: number | null;
  /** Wall seconds to open all sessions (login and one statement each), and sessions per second. */
  openSeconds: number;
  sessionsPerSecond: number | null;
  /** The first few errors opening sessions. */
  errors: string[];
}

export interface BenchResults {
  generatedAt: string;
  machine: {
    nproc: number;
    cpuModel: string;
    loadAverageAtStart: number[];
    /** Absent in older results. */
    loadAverageAtEnd?: number[];
    node: string;
    platform: string;
    postgres: string;
    pgbench: string;
    /** `pgbouncer --version`'s first line (absent in older results). */
    pgbouncer?: string;
  };
  settings: {
    seconds: number;
    warmupSeconds: number;
    /** pgbench -c of each run, in order (a single number in older results). */
    clients: number[] | number;
    /** Seconds of each pgbench -C run (absent in older results). */
    connectSeconds?: number;
    /** -j for each client count: min(2, clients). */
    threads: number;
    scale: number;
    engine: string;
    script: string;
    audit: string;
  };
  results: ModeResult[];
  /** pgbench -C per client count (empty when not measured). */
  connectPerTransaction?: ConnectResult[];
  /** Idle and many-session RSS (absent or null when not measured). */
  memory?: SessionMemory | null;
  /** Per-decision evaluation time of each engine on the example policies. */
  decisions: DecisionTiming[];
  /** The pgbench statement's decision, uncached and cached, per engine (absent in older results). */
  pgbenchDecisions?: PgbenchDecisionTiming[];
  /** Time from a commit to the policy deciding statements, per engine (empty when not measured). */
  activation: ActivationTiming[];
  /** A large SELECT masked at the source against the same SELECT unmasked (absent when not measured). */
  masking?: MaskedSelectTiming | null;
  /** pgbench -S with durable, unsynced and no audit (absent or null when not measured). */
  auditDurability?: AuditDurabilityTiming | null;
  /** The isolation harness (absent or null when not run). */
  isolation?: IsolationResults | null;
}
