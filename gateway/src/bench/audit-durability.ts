// What write-ahead durable audit costs: pgbench -S through three in-process gateways that differ
// only in their audit sink (fdatasync group commit before forwarding; the same file writes without
// fdatasync; no audit at all), run in rotating order in the same run. Measures; never judges.

import type { AuditSink } from '../audit/types.ts';
import type { PgbenchSummary } from './pgbench.ts';

/** One pgbench run's numbers (the shape of bench-report's TargetResult). */
export interface RunResult {
  summary: PgbenchSummary | null;
  exitCode: number;
  error: string | null;
}

export type AuditSetting = 'durable' | 'unsynced' | 'none';
export const AUDIT_SETTINGS: readonly AuditSetting[] = ['durable', 'unsynced', 'none'];

export interface AuditDurabilityRun {
  setting: AuditSetting;
  round: number;
  result: RunResult;
}

export interface AuditDurabilityTiming {
  mode: string;
  seconds: number;
  rounds: number;
  runs: AuditDurabilityRun[];
  /** Median TPS per setting over the rounds (null when no run of it produced numbers). */
  medianTps: Record<AuditSetting, number | null>;
  /** 1 - durable / unsynced median TPS: the share of throughput durability costs (issue 7 asks ≤ 0.10). */
  durableCost: number | null;
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
export function roundOrder(round: number, settings: readonly AuditSetting[] = AUDIT_SETTINGS): AuditSetting[] {
  const shift = round % settings.length;
  return [...settings.slice(shift), ...settings.slice(0, shift)];
}

export async function measureAuditDurability(options: {
  mode: string;
  seconds: number;
  rounds: number;
  /** Which settings to run (default all three). */
  settings?: readonly AuditSetting[];
  run: (setting: AuditSetting, mode: string, seconds: number) => Promise<RunResult>;
  onRun?: (run: AuditDurabilityRun) => void;
}): Promise<AuditDurabilityTiming> {
  const runs: AuditDurabilityRun[] = [];
  for (let round = 0; round < options.rounds; round++) {
    for (const setting of roundOrder(round, options.settings)) {
      const run = { setting, round, result: await options.run(setting, options.mode, options.seconds) };
      runs.push(run);
      options.onRun?.(run);
    }
  }
  return summarizeAuditDurability(options.mode, options.seconds, options.rounds, runs);
}

export function summarizeAuditDurability(mode: string, seconds: number, rounds: number, runs: AuditDurabilityRun[]): AuditDurabilityTiming {
  const medianTps = Object.fromEntries(
    AUDIT_SETTINGS.map((setting) => [setting, median(runs.filter((r) => r.setting === setting).flatMap((r) => (r.result.summary === null ? [] : [r.result.summary.tps])))]),
  ) as Record<AuditSetting, number | null>;
  const { durable, unsynced } = medianTps;
  const durableCost = durable !== null && unsynced !== null && unsynced > 0 ? 1 - durable / unsynced : null;
  return { mode, seconds, rounds, runs, medianTps, durableCost };
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
  const rows = AUDIT_SETTINGS.map((setting) => {
    const mine = t.runs.filter((r) => r.setting === setting);
    const each = mine.map((r) => (r.result.summary === null ? `failed (exit ${r.result.exitCode})` : r.result.summary.tps.toFixed(0))).join(', ');
    const latency = mine.flatMap((r) => (r.result.summary === null ? [] : [r.result.summary.latencyAverageMs.toFixed(3)])).join(', ');
    return `| ${SETTING_TEXT[setting]} | ${each} | ${fixed(t.medianTps[setting])} | ${latency} |`;
  });
  const errors = t.runs.flatMap((r) => (r.result.error === null ? [] : [`- ${r.setting}, round ${r.round + 1}: \`${r.result.error}\``]));
  return [
    '## Audit durability',
    '',
    `\`pgbench -S -M ${t.mode} -T ${t.seconds}\` through three Gatehouse instances that differ only in their audit sink, ` +
      `${t.rounds} round(s) in rotating order. Durable: each statement's record is fdatasynced (one flush shared by the ` +
      'statements written meanwhile) before the statement is forwarded; unsynced: the same records written without ' +
      'fdatasync; none: no records at all.',
    '',
    '| audit | TPS, each round | median TPS | average latency, each round (ms) |',
    '|---|---|---:|---|',
    ...rows,
    '',
    `Durable costs ${t.durableCost === null ? 'n/a' : `${(t.durableCost * 100).toFixed(1)}%`} of unsynced throughput (issue 7 asks for at most 10%).`,
    '',
    ...(errors.length > 0 ? ['Errors:', '', ...errors, ''] : []),
  ];
}

const SETTING_TEXT: Record<AuditSetting, string> = {
  durable: 'durable (fdatasync, group commit)',
  unsynced: 'file, no fdatasync',
  none: 'none',
};
