// The bench's comparison with its anchors (direct PostgreSQL and PgBouncer): the throughput and CPU
// table, pgbench -C, Gatehouse's memory with many sessions, and a verdict against issue 8's
// "Done when" numbers. Pure: renders and judges a result document, measures nothing.
import type { BenchResults, ConnectResult, ModeResult, SessionMemory, TargetResult } from './bench-results.ts';
import { judgeDecisions } from './decision-report.ts';

/** Issue 8's targets, in one place. */
export const TARGETS = {
  /** Gatehouse CPU per transaction at most this many times PgBouncer's, at c=8. */
  cpuRatioMax: 3,
  /** Gatehouse throughput at least this share of PgBouncer's, at c=8 and c=32. */
  tpsShareMin: 0.5,
  /** pgbench -C: at least this share of PgBouncer's, and at least direct's. */
  connectShareMin: 0.5,
  idleRssMaxMb: 120,
  sessionsRssMaxMb: 200,
  sessions: 1_000,
} as const;

export interface Criterion {
  criterion: string;
  measured: string;
  /** null: not measured in this run. */
  met: boolean | null;
}

export function fixed(value: number | null | undefined, digits: number): string {
  return value === null || value === undefined ? 'n/a' : value.toFixed(digits);
}

const tps = (t: TargetResult | undefined): number | null => t?.summary?.tps ?? null;

/** a / b, or null when either is missing or b is not positive. */
export function ratioOf(a: number | null | undefined, b: number | null | undefined): number | null {
  return a === null || a === undefined || b === null || b === undefined || b <= 0 ? null : a / b;
}

const times = (r: number | null): string => (r === null ? 'n/a' : `${r.toFixed(2)}×`);
const mb = (bytes: number | null): string => (bytes === null ? 'n/a' : (bytes / 1024 / 1024).toFixed(0));

function failedCount(t: TargetResult | undefined): string {
  if (t === undefined) return '-';
  if (t.summary === null) return `run failed (exit ${t.exitCode})`;
  return String(t.summary.failedTransactions) + (t.exitCode === 0 ? '' : ` (exit ${t.exitCode})`);
}

/** The main table: one row per (clients, mode), the three targets side by side. */
export function renderComparisonRows(results: readonly ModeResult[]): string[] {
  return [
    '| clients | mode | direct TPS | PgBouncer TPS | Gatehouse TPS | Gatehouse / PgBouncer | Gatehouse / direct | PgBouncer CPU/tx (µs) | Gatehouse CPU/tx (µs) | CPU/tx Gatehouse / PgBouncer | latency ms (direct / PgBouncer / Gatehouse) | failed (direct / PgBouncer / Gatehouse) |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|',
    ...results.map((m) => {
      const pgbCpu = m.pgbouncer?.proxyCpuMicrosPerTransaction;
      const ghCpu = m.gatehouse.proxyCpuMicrosPerTransaction;
      const latency = [m.direct, m.pgbouncer, m.gatehouse].map((t) => fixed(t?.summary?.latencyAverageMs, 3)).join(' / ');
      return `| ${m.clients ?? 'n/a'} | ${m.mode} | ${fixed(tps(m.direct), 0)} | ${fixed(tps(m.pgbouncer), 0)} | ${fixed(tps(m.gatehouse), 0)} | ${times(ratioOf(tps(m.gatehouse), tps(m.pgbouncer)))} | ${times(m.ratio)} | ${fixed(pgbCpu, 1)} | ${fixed(ghCpu, 1)} | ${times(ratioOf(ghCpu, pgbCpu))} | ${latency} | ${[m.direct, m.pgbouncer, m.gatehouse].map(failedCount).join(' / ')} |`;
    }),
  ];
}

/** pgbench -C: a new connection (and, through Gatehouse, a JWT login) for every transaction. */
export function renderConnectPerTransaction(rows: readonly ConnectResult[], seconds: number): string[] {
  if (rows.length === 0) return [];
  return [
    '## A new connection per transaction (pgbench -C)',
    '',
    `\`pgbench -S -C -n -T ${seconds} -c <clients> -j min(2, clients) -M simple\`: every transaction logs in (through Gatehouse: a JWT`,
    'as the password, verified per connection), runs one SELECT and disconnects. Gatehouse as configured for the',
    'runs above (one upstream connection per client session), and a second Gatehouse with `upstream.pool`',
    '(session pooling: a login takes a pooled, reset upstream connection). PgBouncer is in session mode.',
    '',
    '| clients | direct TPS | PgBouncer TPS | Gatehouse TPS | Gatehouse pooled TPS | pooled / direct | pooled / PgBouncer | PgBouncer CPU/tx (µs) | Gatehouse CPU/tx (µs) | pooled CPU/tx (µs) | failed (direct / PgBouncer / Gatehouse / pooled) |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    ...rows.map(
      (r) =>
        `| ${r.clients} | ${fixed(tps(r.direct), 0)} | ${fixed(tps(r.pgbouncer), 0)} | ${fixed(tps(r.gatehouse), 0)} | ${fixed(tps(r.gatehousePooled), 0)} | ${times(ratioOf(tps(r.gatehousePooled), tps(r.direct)))} | ${times(ratioOf(tps(r.gatehousePooled), tps(r.pgbouncer)))} | ${fixed(r.pgbouncer.proxyCpuMicrosPerTransaction, 1)} | ${fixed(r.gatehouse.proxyCpuMicrosPerTransaction, 1)} | ${fixed(r.gatehousePooled.proxyCpuMicrosPerTransaction, 1)} | ${[r.direct, r.pgbouncer, r.gatehouse, r.gatehousePooled].map(failedCount).join(' / ')} |`,
    ),
    '',
  ];
}

export function renderMemory(m: SessionMemory | null | undefined): string[] {
  if (m === null || m === undefined) return [];
  return [
    '## Memory and new sessions',
    '',
    `Gatehouse as a child process (\`gatehouse serve\`, example policies, audit to a file) in front of ${m.upstream}.`,
    `VmRSS from /proc after start (idle), with ${m.sessions.toLocaleString('en-US')} client sessions logged in and`,
    `each having run one statement (opened ${m.concurrency} at a time over loopback), and after they closed.`,
    '',
    '| idle RSS (MB) | sessions open | RSS with them open (MB) | RSS after they closed (MB) | seconds to open them | new sessions per second |',
    '|---:|---:|---:|---:|---:|---:|',
    `| ${mb(m.idleRssBytes)} | ${m.opened} of ${m.sessions} | ${mb(m.rssWithSessionsBytes)} | ${mb(m.rssAfterCloseBytes)} | ${m.openSeconds.toFixed(1)} | ${fixed(m.sessionsPerSecond, 0)} |`,
    '',
    ...(m.idleChildren === undefined
      ? []
      : [`Child processes of Gatehouse at idle (their memory is not in its RSS): ${m.idleChildren.length === 0 ? 'none' : m.idleChildren.map((c) => `${c.command} ${mb(c.rssBytes)} MB`).join(', ')}.`, '']),
    ...(m.errors.length > 0 ? ['Errors opening sessions (first few):', '', ...m.errors.map((e) => `- \`${e}\``), ''] : []),
  ];
}

/** Issue 8's "Done when" numbers against this run. */
export function judgeAgainstIssue8(r: BenchResults): Criterion[] {
  const out: Criterion[] = [];
  for (const clients of [8, 32]) {
    const rows = r.results.filter((m) => m.clients === clients && m.pgbouncer !== undefined);
    for (const mode of ['simple', 'extended', 'prepared'] as const) {
      const m = rows.find((x) => x.mode === mode);
      if (clients === 8) {
        const cpu = ratioOf(m?.gatehouse.proxyCpuMicrosPerTransaction, m?.pgbouncer?.proxyCpuMicrosPerTransaction);
        out.push({
          criterion: `CPU/tx ≤ ${TARGETS.cpuRatioMax}× PgBouncer's, ${mode}, c=8`,
          measured: cpu === null ? 'not measured' : `${cpu.toFixed(1)}× (${fixed(m?.gatehouse.proxyCpuMicrosPerTransaction, 0)} vs ${fixed(m?.pgbouncer?.proxyCpuMicrosPerTransaction, 0)} µs)`,
          met: cpu === null ? null : cpu <= TARGETS.cpuRatioMax,
        });
      }
      const share = ratioOf(tps(m?.gatehouse), tps(m?.pgbouncer));
      out.push({
        criterion: `TPS ≥ ${TARGETS.tpsShareMin}× PgBouncer's, ${mode}, c=${clients}`,
        measured: share === null ? 'not measured' : `${share.toFixed(2)}×`,
        met: share === null ? null : share >= TARGETS.tpsShareMin,
      });
    }
  }
  for (const c of r.connectPerTransaction ?? []) {
    const pooled = tps(c.gatehousePooled);
    const vsDirect = ratioOf(pooled, tps(c.direct));
    const vsPgbouncer = ratioOf(pooled, tps(c.pgbouncer));
    out.push({
      criterion: `-C (pooled Gatehouse) ≥ direct and ≥ ${TARGETS.connectShareMin}× PgBouncer, c=${c.clients}`,
      measured: vsDirect === null || vsPgbouncer === null ? 'not measured' : `${vsDirect.toFixed(2)}× direct, ${vsPgbouncer.toFixed(2)}× PgBouncer`,
      met: vsDirect === null || vsPgbouncer === null ? null : vsDirect >= 1 && vsPgbouncer >= TARGETS.connectShareMin,
    });
  }
  const m = r.memory ?? null;
  const idle = m?.idleRssBytes ?? null;
  out.push({
    criterion: `idle RSS ≤ ${TARGETS.idleRssMaxMb} MB`,
    measured: idle === null ? 'not measured' : `${mb(idle)} MB`,
    met: idle === null ? null : idle <= TARGETS.idleRssMaxMb * 1024 * 1024,
  });
  const full = m !== null && m.opened >= TARGETS.sessions ? m.rssWithSessionsBytes : null;
  out.push({
    criterion: `RSS ≤ ${TARGETS.sessionsRssMaxMb} MB with ${TARGETS.sessions.toLocaleString('en-US')} sessions`,
    measured: full === null ? (m === null ? 'not measured' : `not measured (${m.opened} sessions open)`) : `${mb(full)} MB`,
    met: full === null ? null : full <= TARGETS.sessionsRssMaxMb * 1024 * 1024,
  });
  out.push(...judgeDecisions(r.pgbenchDecisions ?? []));
  return out;
}

export function renderVerdict(r: BenchResults): string[] {
  const criteria = judgeAgainstIssue8(r);
  if (criteria.every((c) => c.met === null)) return [];
  const met = criteria.filter((c) => c.met === true).length;
  const judged = criteria.filter((c) => c.met !== null).length;
  const load = r.machine.loadAverageAtEnd;
  return [
    '## Verdict against issue 8',
    '',
    `${met} of ${judged} measured criteria met (load average ${r.machine.loadAverageAtStart.map((l) => l.toFixed(2)).join(', ')} at the start` +
      `${load === undefined ? '' : `, ${load.map((l) => l.toFixed(2)).join(', ')} at the end`}: on a loaded machine the ratios move).`,
    '',
    '| criterion | this run | met |',
    '|---|---|---|',
    ...criteria.map((c) => `| ${c.criterion} | ${c.measured} | ${c.met === null ? 'n/a' : c.met ? 'yes' : '**no**'} |`),
    '',
  ];
}
