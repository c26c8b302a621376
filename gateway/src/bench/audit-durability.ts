// What write-ahead durable audit costs: pgbench -S through in-process gateways that differ only in
// their audit sink (fdatasync group commit before forwarding; the same file writes without
// fdatasync; no audit at all; and, when asked, the PostgreSQL audit table, committed before
// forwarding), run in rotating order in the same run. Measures; never judges.

import type { AuditSink } from '../audit/types.ts';
import type { PgbenchSummary } from './pgbench.ts';

/** One pgbench run's numbers (the shape of bench-report's TargetResult). */
export interface RunResult {
  summary: PgbenchSummary | null;
  exitCode: number;
  error: string | null;
}

/** The settings `npm run bench` measures. */
export type AuditSetting = 'durable' | 'unsynced' | 'none';
/**
 * With the PostgreSQL sink, which needs a database of its own (scripts/bench-audit.ts --postgres-sink),
 * the durable file preallocated (audit.preallocate_bytes; scripts/bench-audit.ts --preallocate), and the
 * durable file flushed itself for every batch, without the write-ahead ring (audit.ring_bytes 0; --appends).
 */
export type AnyAuditSetting = AuditSetting | 'postgres' | 'preallocated' | 'appends';
export const AUDIT_SETTINGS: readonly AuditSetting[] = ['durable', 'unsynced', 'none'];
const ALL_SETTINGS: readonly AnyAuditSetting[] = ['durable', 'appends', 'preallocated', 'unsynced', 'none', 'postgres'];

export interface AuditDurabilityRun {
  setting: AnyAuditSetting;
  round: number;
  result: RunResult;
}

export interface AuditDurabilityTiming {
  /** The settings measured, in the first round's order. */
  settings: AnyAuditSetting[];
  mode: string;
  seconds: number;
  rounds: number;
  runs: AuditDurabilityRun[];
  /** Median TPS per setting over the rounds (null when no run of it produced numbers, or not measured). */
  medianTps: Record<AnyAuditSetting, number | null>;
  /** 1 - durable / unsynced median TPS: the share of throughput durability costs (issue 7 asks ≤ 0.10). */
  durableCost: number | null;
  /** The same for the preallocated durable file (null when not measured). */
  preallocatedCost: number | null;
  /** The same for the durable file without the write-ahead ring (null when not measured). */
  appendsCost: number | null;
  /** postgres / durable median TPS: the PostgreSQL sink's throughput against the durable file's (null when not measured). */
  postgresVsDurable: number | null;
}

/**
 * No audit at all, for the baseline only: records are dropped and nothing waits. Never used by
 * `gatehouse serve` (the config has no way to ask for it).
 */
export function discardingAuditSink(): AuditSink {
  return {
    write: () => undefined,
    writeSoon: () => undefined,
    whenDurable: (done) => done(null),
    close: async () => undefined,
  };
}

/** The order of the settings in round `round`: rotated, so that none always runs first or last. */
export function roundOrder<S extends AnyAuditSetting>(round: number, settings: readonly S[] = AUDIT_SETTINGS as readonly S[]): S[] {
  const shift = round % settings.length;
  return [...settings.slice(shift), ...settings.slice(0, shift)];
}

export async function measureAuditDurability<S extends AnyAuditSetting = AuditSetting>(options: {
  /** Default: durable, unsynced and none. */
  settings?: readonly S[];
  mode: string;
  seconds: number;
  rounds: number;
  run: (setting: S, mode: string, seconds: number) => Promise<RunResult>;
  onRun?: (run: AuditDurabilityRun) => void;
}): Promise<AuditDurabilityTiming> {
  const settings = options.settings ?? (AUDIT_SETTINGS as readonly S[]);
  const runs: AuditDurabilityRun[] = [];
  for (let round = 0; round < options.rounds; round++) {
    for (const setting of roundOrder(round, settings)) {
      const run = { setting, round, result: await options.run(setting, options.mode, options.seconds) };
      runs.push(run);
      options.onRun?.(run);
    }
  }
  return summarizeAuditDurability(options.mode, options.seconds, options.rounds, runs, settings);
}

export function summarizeAuditDurability(mode: string, seconds: number, rounds: number, runs: AuditDurabilityRun[], settings: readonly AnyAuditSetting[] = AUDIT_SETTINGS): AuditDurabilityTiming {
  const medianTps = Object.fromEntries(
    ALL_SETTINGS.map((setting) => [setting, median(runs.filter((r) => r.setting === setting).flatMap((r) => (r.result.summary === null ? [] : [r.result.summary.tps])))]),
  ) as Record<AnyAuditSetting, number | null>;
  const { durable, unsynced, postgres, preallocated, appends } = medianTps;
  const appendsCost = appends !== null && unsynced !== null && unsynced > 0 ? 1 - appends / unsynced : null;
  const durableCost = durable !== null && unsynced !== null && unsynced > 0 ? 1 - durable / unsynced : null;
  const preallocatedCost = preallocated !== null && unsynced !== null && unsynced > 0 ? 1 - preallocated / unsynced : null;
  const postgresVsDurable = postgres !== null && durable !== null && durable > 0 ? postgres / durable : null;
  return { settings: [...settings], mode, seconds, rounds, runs, medianTps, durableCost, preallocatedCost, appendsCost, postgresVsDurable };
}

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The Markdown section: one row per setting, each round's TPS, the median, and durability's cost. */
export function renderAuditDurability(t: AuditDurabilityTiming | null): string[] {
  if (t === null) return [];
  const fixed = (x: number | null): string => (x === null ? 'n/a' : x.toFixed(0));
  const rows = t.settings.map((setting) => {
    const mine = t.runs.filter((r) => r.setting === setting);
    const each = mine.map((r) => (r.result.summary === null ? `failed (exit ${r.result.exitCode})` : r.result.summary.tps.toFixed(0))).join(', ');
    const latency = mine.flatMap((r) => (r.result.summary === null ? [] : [r.result.summary.latencyAverageMs.toFixed(3)])).join(', ');
    return `| ${SETTING_TEXT[setting]} | ${each} | ${fixed(t.medianTps[setting])} | ${latency} |`;
  });
  const errors = t.runs.flatMap((r) => (r.result.error === null ? [] : [`- ${r.setting}, round ${r.round + 1}: \`${r.result.error}\``]));
  return [
    '## Audit durability',
    '',
    `\`pgbench -S -M ${t.mode} -T ${t.seconds}\` through ${t.settings.length} Gatehouse instances that differ only in their audit sink, ` +
      `${t.rounds} round(s) in rotating order. Durable: each statement's record is fdatasynced (one flush shared by the ` +
      'statements written meanwhile) before the statement is forwarded; unsynced: the same records written without ' +
      'fdatasync; none: no records at all' +
      (t.settings.includes('postgres') ? '; postgres: the records inserted into the PostgreSQL audit table, the statement forwarded once the batch holding its record committed.' : '.'),
    '',
    '| audit | TPS, each round | median TPS | average latency, each round (ms) |',
    '|---|---|---:|---|',
    ...rows,
    '',
    `Durable costs ${t.durableCost === null ? 'n/a' : `${(t.durableCost * 100).toFixed(1)}%`} of unsynced throughput (issue 7 asks for at most 10%).`,
    ...(t.appendsCost === null ? [] : ['', `Durable without the write-ahead ring (each batch's own flush of the log) costs ${(t.appendsCost * 100).toFixed(1)}% of unsynced throughput.`]),
    ...(t.preallocatedCost === null ? [] : ['', `Durable with the file preallocated costs ${(t.preallocatedCost * 100).toFixed(1)}% of unsynced throughput.`]),
    ...(t.settings.includes('postgres')
      ? ['', `The PostgreSQL sink reaches ${t.postgresVsDurable === null ? 'n/a' : `${(t.postgresVsDurable * 100).toFixed(0)}%`} of the durable file sink's throughput.`]
      : []),
    '',
    ...(errors.length > 0 ? ['Errors:', '', ...errors, ''] : []),
  ];
}

const SETTING_TEXT: Record<AnyAuditSetting, string> = {
  durable: 'durable (fdatasync, group commit)',
  appends: 'durable, no write-ahead ring (audit.ring_bytes 0)',
  unsynced: 'file, no fdatasync',
  none: 'none',
  postgres: 'PostgreSQL table (commit before forwarding)',
  preallocated: 'durable, file preallocated (audit.preallocate_bytes)',
};
