import { describe, expect, it } from 'vitest';
import { judgeAgainstIssue8, renderConnectPerTransaction, renderMemory, renderVerdict } from './anchor-report.ts';
import type { BenchResults, ModeResult, QueryMode, SessionMemory, TargetResult } from './bench-results.ts';

const run = (tps: number, cpu?: number): TargetResult => ({
  summary: { tps, latencyAverageMs: 8000 / tps, transactions: tps * 10, failedTransactions: 0, initialConnectionMs: 30 },
  exitCode: 0,
  error: null,
  ...(cpu === undefined ? {} : { proxyCpuMicrosPerTransaction: cpu }),
});

const mode = (clients: number, m: QueryMode, pgbouncerTps: number, gatehouseTps: number, pgbCpu: number, ghCpu: number): ModeResult => ({
  mode: m,
  clients,
  direct: run(20_000),
  pgbouncer: run(pgbouncerTps, pgbCpu),
  gatehouse: run(gatehouseTps, ghCpu),
  ratio: gatehouseTps / 20_000,
});

const MB = 1024 * 1024;
const memory: SessionMemory = {
  upstream: 'a private PostgreSQL',
  idleRssBytes: 110 * MB,
  sessions: 1000,
  opened: 1000,
  concurrency: 50,
  rssWithSessionsBytes: 250 * MB,
  rssAfterCloseBytes: 130 * MB,
  openSeconds: 12.5,
  sessionsPerSecond: 80,
  errors: [],
};

const base: BenchResults = {
  generatedAt: '2026-12-06T00:00:00.000Z',
  machine: { nproc: 2, cpuModel: 'cpu', loadAverageAtStart: [1, 1, 1], loadAverageAtEnd: [2, 1.5, 1], node: 'v20', platform: 'Linux', postgres: '15', pgbench: 'pgbench 15' },
  settings: { seconds: 10, warmupSeconds: 2, clients: [8, 32], threads: 2, scale: 1, engine: 'rego', script: '-S', audit: 'file' },
  results: [
    mode(8, 'simple', 10_000, 6_000, 20, 50),
    mode(8, 'extended', 8_000, 3_000, 30, 120),
    mode(8, 'prepared', 10_000, 5_000, 20, 60),
    mode(32, 'simple', 10_000, 5_000, 20, 50),
    mode(32, 'extended', 8_000, 4_000, 30, 100),
    mode(32, 'prepared', 10_000, 4_900, 20, 60),
  ],
  connectPerTransaction: [{ clients: 8, direct: run(500), pgbouncer: run(2_000, 40), gatehouse: run(300, 900), gatehousePooled: run(1_200, 300) }],
  memory,
  decisions: [],
  activation: [],
};

const find = (criteria: ReturnType<typeof judgeAgainstIssue8>, text: string) => criteria.find((c) => c.criterion === text);

describe('judgeAgainstIssue8', () => {
  const criteria = judgeAgainstIssue8(base);

  it('judges CPU per transaction against PgBouncer at c=8 only', () => {
    expect(find(criteria, 'CPU/tx ≤ 3× PgBouncer\'s, simple, c=8')).toMatchObject({ met: true, measured: '2.5× (50 vs 20 µs)' });
    expect(find(criteria, 'CPU/tx ≤ 3× PgBouncer\'s, extended, c=8')).toMatchObject({ met: false });
    expect(criteria.filter((c) => c.criterion.startsWith('CPU/tx') && c.criterion.endsWith('c=32'))).toEqual([]);
  });

  it('judges throughput against half of PgBouncer\'s at c=8 and c=32', () => {
    expect(find(criteria, 'TPS ≥ 0.5× PgBouncer\'s, simple, c=8')).toMatchObject({ met: true, measured: '0.60×' });
    expect(find(criteria, 'TPS ≥ 0.5× PgBouncer\'s, extended, c=8')).toMatchObject({ met: false, measured: '0.38×' });
    expect(find(criteria, 'TPS ≥ 0.5× PgBouncer\'s, extended, c=32')).toMatchObject({ met: true });
    expect(find(criteria, 'TPS ≥ 0.5× PgBouncer\'s, prepared, c=32')).toMatchObject({ met: false });
  });

  it('judges pgbench -C with the pooled Gatehouse: at least direct and half of PgBouncer', () => {
    expect(find(criteria, '-C (pooled Gatehouse) ≥ direct and ≥ 0.5× PgBouncer, c=8')).toMatchObject({ met: true, measured: '2.40× direct, 0.60× PgBouncer' });
    const slow = judgeAgainstIssue8({ ...base, connectPerTransaction: [{ ...base.connectPerTransaction![0]!, gatehousePooled: run(400, 300) }] });
    expect(find(slow, '-C (pooled Gatehouse) ≥ direct and ≥ 0.5× PgBouncer, c=8')?.met).toBe(false);
  });

  it('judges idle RSS and RSS with 1,000 sessions, and only with 1,000 open', () => {
    expect(find(criteria, 'idle RSS ≤ 120 MB')).toMatchObject({ met: true, measured: '110 MB' });
    expect(find(criteria, 'RSS ≤ 200 MB with 1,000 sessions')).toMatchObject({ met: false, measured: '250 MB' });
    const fewer = judgeAgainstIssue8({ ...base, memory: { ...memory, opened: 990 } });
    expect(find(fewer, 'RSS ≤ 200 MB with 1,000 sessions')).toMatchObject({ met: null, measured: 'not measured (990 sessions open)' });
  });

  it('says "not measured" rather than judging what did not run', () => {
    const nothing = judgeAgainstIssue8({ ...base, results: [], connectPerTransaction: [], memory: null });
    expect(nothing.every((c) => c.met === null)).toBe(true);
    expect(renderVerdict({ ...base, results: [], connectPerTransaction: [], memory: null })).toEqual([]);
  });

  it('treats a failed PgBouncer or Gatehouse run as not measured', () => {
    const failed = judgeAgainstIssue8({ ...base, results: [{ ...base.results[0]!, gatehouse: { summary: null, exitCode: 2, error: 'boom' } }] });
    expect(find(failed, 'TPS ≥ 0.5× PgBouncer\'s, simple, c=8')?.met).toBeNull();
  });
});

describe('rendering', () => {
  it('heads the verdict with the count met and both load averages', () => {
    const text = renderVerdict(base).join('\n');
    expect(text).toContain('## Verdict against issue 8');
    expect(text).toMatch(/^8 of 12 measured criteria met \(load average 1\.00, 1\.00, 1\.00 at the start, 2\.00, 1\.50, 1\.00 at the end/m);
    expect(text).toContain('| idle RSS ≤ 120 MB | 110 MB | yes |');
    expect(text).toContain('| RSS ≤ 200 MB with 1,000 sessions | 250 MB | **no** |');
  });

  it('renders pgbench -C per client count with the pooled ratios', () => {
    const text = renderConnectPerTransaction(base.connectPerTransaction!, 10).join('\n');
    expect(text).toContain('pgbench -S -C -n -T 10');
    expect(text).toContain('| 8 | 500 | 2000 | 300 | 1200 | 2.40× | 0.60× | 40.0 | 900.0 | 300.0 | 0 / 0 / 0 / 0 |');
    expect(renderConnectPerTransaction([], 10)).toEqual([]);
  });

  it('renders memory in MB with sessions per second, and the errors', () => {
    const text = renderMemory({ ...memory, opened: 998, errors: ['too many connections'] }).join('\n');
    expect(text).toContain('| 110 | 998 of 1000 | 250 | 130 | 12.5 | 80 |');
    expect(text).toContain('- `too many connections`');
    expect(renderMemory(null)).toEqual([]);
  });

  it("names the gateway's child processes at idle, whose memory its RSS leaves out", () => {
    expect(renderMemory({ ...memory, idleChildren: [{ command: 'esbuild', rssBytes: 64 * MB }] }).join('\n')).toContain('at idle (their memory is not in its RSS): esbuild 64 MB.');
    expect(renderMemory({ ...memory, idleChildren: [] }).join('\n')).toContain('at idle (their memory is not in its RSS): none.');
    expect(renderMemory(memory).join('\n')).not.toContain('Child processes');
  });
});
