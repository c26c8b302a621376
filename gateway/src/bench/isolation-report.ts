// The isolation harness's results: what was measured per phase, the verdict against issue 11's
// criteria (p99 with the hostile client within 3× of without, no well-behaved session error, RSS
// after within 20% of before), and their Markdown section in bench-results/latest.md.

import type { HostileAction, HostileTally } from './hostile-client.ts';
import type { TrafficKind } from './isolation-traffic.ts';
import type { LatencySummary } from './latency-stats.ts';

export type PhaseName = 'baseline' | 'hostile' | 'recovery' | 'soak';

export interface PhaseResult {
  name: PhaseName;
  seconds: number;
  latency: LatencySummary;
  byKind: Record<TrafficKind, LatencySummary>;
  errors: number;
  /** The first few distinct error messages. */
  errorSamples: string[];
  /**
   * CPU time the gateway process used during the phase, seconds (null: not measured). Unlike
   * latency, it hardly depends on what else loads the machine: what the hostile client costs the
   * gateway shows as the hostile phase's CPU beyond the baseline's.
   */
  gatewayCpuSeconds?: number | null;
}

export interface RssSample {
  atSeconds: number;
  phase: string;
  rssMiB: number;
}

/** The well-behaved statements that ended in one window of the run. */
export interface LatencyWindow {
  /** Start of the window, seconds since the harness started. */
  atSeconds: number;
  phase: string;
  statements: number;
  p99Ms: number | null;
  maxMs: number | null;
}

export interface IsolationResults {
  generatedAt: string;
  settings: {
    sessions: number;
    warmupSeconds: number;
    phaseSeconds: number;
    thinkMs: number;
    engine: string;
    hostileActions: HostileAction[];
    /** Why an action the issue names was not sent, if one was not. */
    notes: string[];
    upstream: string;
  };
  machine: { nproc: number; loadAverageAtStart: number[]; loadAverageAtEnd: number[] };
  connectSeconds: number;
  phases: PhaseResult[];
  hostile: HostileTally[];
  rss: RssSample[];
  /** Latency per window of the run: a stall of every session shows as one window's max. */
  windows: LatencyWindow[];
  /** RSS at the end of the warm-up, at the end of the last phase (sessions still open), and after they closed. */
  rssBeforeMiB: number | null;
  rssAfterMiB: number | null;
  rssIdleMiB: number | null;
  /** The gateway process exited during the run (a crash). */
  gatewayExit: string | null;
  /** Gateway log lines worth reading (ended sessions, catalog reads, errors), capped. */
  gatewayLog: string[];
  verdict: IsolationVerdict;
}

export interface IsolationVerdict {
  /** p99 with the hostile client / p99 without it (null when either is missing). */
  p99Ratio: number | null;
  p99WithinThreeTimes: boolean | null;
  wellBehavedErrors: number;
  /** RSS after / RSS before. */
  rssRatio: number | null;
  rssWithinTwentyPercent: boolean | null;
  passed: boolean;
}

export function judge(phases: readonly PhaseResult[], rssBeforeMiB: number | null, rssAfterMiB: number | null, gatewayExit: string | null): IsolationVerdict {
  const baseline = phases.find((p) => p.name === 'baseline')?.latency.p99Ms ?? null;
  const hostile = phases.find((p) => p.name === 'hostile')?.latency.p99Ms ?? null;
  const p99Ratio = baseline !== null && hostile !== null && baseline > 0 ? hostile / baseline : null;
  const p99WithinThreeTimes = p99Ratio === null ? null : p99Ratio <= 3;
  const wellBehavedErrors = phases.reduce((n, p) => n + p.errors, 0);
  const rssRatio = rssBeforeMiB !== null && rssAfterMiB !== null && rssBeforeMiB > 0 ? rssAfterMiB / rssBeforeMiB : null;
  const rssWithinTwentyPercent = rssRatio === null ? null : rssRatio <= 1.2;
  const passed = gatewayExit === null && p99WithinThreeTimes !== false && wellBehavedErrors === 0 && rssWithinTwentyPercent !== false;
  return { p99Ratio, p99WithinThreeTimes, wellBehavedErrors, rssRatio, rssWithinTwentyPercent, passed };
}

const ms = (x: number | null): string => (x === null ? 'n/a' : x < 10 ? x.toFixed(2) : x.toFixed(0));
const yes = (x: boolean | null): string => (x === null ? 'not measured' : x ? 'yes' : '**no**');

/** One row per `every` seconds of the RSS samples (and the last), as "t s (phase): MiB". */
function rssTimeline(samples: readonly RssSample[], rows = 24): string[] {
  if (samples.length === 0) return ['(no RSS samples: /proc not readable)'];
  const step = Math.max(1, Math.ceil(samples.length / rows));
  const picked = samples.filter((_, i) => i % step === 0 || i === samples.length - 1);
  return ['| t (s) | phase | RSS (MiB) |', '|---:|---|---:|', ...picked.map((s) => `| ${s.atSeconds.toFixed(0)} | ${s.phase} | ${s.rssMiB.toFixed(0)} |`)];
}

/** The windows, condensed to at most `rows` rows (each row the worst of the windows it covers). */
function windowTable(windows: readonly LatencyWindow[], rows = 24): string[] {
  if (windows.length === 0) return [];
  const step = Math.max(1, Math.ceil(windows.length / rows));
  const out: string[] = ['| t (s) | phase | statements | worst window p99 (ms) | max (ms) |', '|---:|---|---:|---:|---:|'];
  for (let i = 0; i < windows.length; i += step) {
    const group = windows.slice(i, i + step);
    const worst = (f: (w: LatencyWindow) => number | null): number | null =>
      group.reduce<number | null>((m, w) => (f(w) === null ? m : Math.max(m ?? 0, f(w)!)), null);
    out.push(`| ${group[0]!.atSeconds.toFixed(0)} | ${group[0]!.phase} | ${group.reduce((n, w) => n + w.statements, 0)} | ${ms(worst((w) => w.p99Ms))} | ${ms(worst((w) => w.maxMs))} |`);
  }
  return out;
}

/** The gateway's CPU time in a phase as a share of one core. */
function cpuShare(p: PhaseResult): string {
  return p.gatewayCpuSeconds === undefined || p.gatewayCpuSeconds === null ? 'n/a' : `${((100 * p.gatewayCpuSeconds) / p.seconds).toFixed(0)}%`;
}

export function renderIsolation(r: IsolationResults): string[] {
  const s = r.settings;
  const v = r.verdict;
  const phaseRows = r.phases.map((p) =>
    [p.name, p.seconds, p.latency.count, ms(p.latency.p50Ms), ms(p.latency.p99Ms), ms(p.latency.maxMs), ms(p.byKind.allowed.p99Ms), ms(p.byKind.masked.p99Ms), ms(p.byKind.denied.p99Ms), p.errors, cpuShare(p)].join(' | '),
  );
  const hostileRows = r.hostile.map((h) => `| ${h.action} | ${h.sent} | ${Object.entries(h.outcomes).map(([k, n]) => `${k} × ${n}`).join(', ') || '-'} | ${ms(h.maxMs)} |`);
  const errorLines = r.phases.flatMap((p) => p.errorSamples.map((e) => `- ${p.name}: \`${e.replace(/`/g, "'")}\``));
  return [
    '## Isolation: well-behaved sessions beside a hostile client',
    '',
    `${s.sessions} sessions through Gatehouse (${s.engine} policies; child process, loopback; upstream: ${s.upstream}), each running`,
    `a mix of allowed (50%, simple and extended), masked (30%) and denied (20%) statements with a ${s.thinkMs} ms mean think time.`,
    `After a ${s.warmupSeconds} s warm-up: ${r.phases.map((p) => `${p.name} ${p.seconds} s`).join(', ')}. ` +
      (s.hostileActions.length > 0
        ? `During \`hostile\`, one more client sends, each kind in its own loop on fresh connections: ${s.hostileActions.join(', ')}.`
        : 'No hostile client in this run.'),
    `Sessions connected in ${r.connectSeconds.toFixed(1)} s.`,
    ...(s.notes.length > 0 ? ['', ...s.notes.map((n) => `Note: ${n}`)] : []),
    '',
    '| phase | s | statements | p50 (ms) | p99 (ms) | max (ms) | allowed p99 | masked p99 | denied p99 | errors | gateway CPU (% of a core) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...phaseRows.map((row) => `| ${row} |`),
    '',
    ...(errorLines.length > 0 ? ['Well-behaved session errors (first of each kind):', '', ...errorLines, ''] : []),
    ...(r.hostile.length > 0 ? ['| hostile action | sent | outcomes (SQLSTATE or what happened) | slowest (ms) |', '|---|---:|---|---:|', ...hostileRows, ''] : []),
    `Verdict against issue 11 (${v.passed ? '**PASS**' : '**FAIL**'}):`,
    '',
    `- p99 with the hostile client within 3× of without: ${yes(v.p99WithinThreeTimes)} (${v.p99Ratio === null ? 'n/a' : `${v.p99Ratio.toFixed(2)}×`})`,
    `- no well-behaved session error: ${yes(v.wellBehavedErrors === 0)} (${v.wellBehavedErrors})`,
    `- RSS after within 20% of before: ${yes(v.rssWithinTwentyPercent)} (before ${r.rssBeforeMiB?.toFixed(0) ?? 'n/a'} MiB, after ${r.rssAfterMiB?.toFixed(0) ?? 'n/a'} MiB${v.rssRatio === null ? '' : `, ${v.rssRatio.toFixed(2)}×`}; ${r.rssIdleMiB?.toFixed(0) ?? 'n/a'} MiB once the sessions closed)`,
    ...(r.gatewayExit !== null ? [`- **the gateway process exited during the run: ${r.gatewayExit}**`] : []),
    '',
    `Load average ${r.machine.loadAverageAtStart.map((l) => l.toFixed(1)).join('/')} at start, ${r.machine.loadAverageAtEnd.map((l) => l.toFixed(1)).join('/')} at end, on ${r.machine.nproc} cores shared`,
    'by PostgreSQL, Gatehouse and the harness (and whatever else runs on the machine): latencies are noisy; compare phases of one run.',
    'The gateway CPU column (all its threads, from /proc) hardly depends on that load: the hostile phase\'s CPU beyond the',
    'baseline\'s is what the hostile client costs the gateway.',
    '',
    '### Latency over time (statements ending in each window)',
    '',
    ...windowTable(r.windows),
    '',
    '### Gateway RSS over time',
    '',
    ...rssTimeline(r.rss),
    '',
    ...(r.gatewayLog.length > 0 ? ['### Gateway log (excerpt)', '', '```', ...r.gatewayLog.slice(-20), '```', ''] : []),
  ];
}
