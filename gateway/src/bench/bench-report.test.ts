import { describe, expect, it } from 'vitest';
import { renderMarkdown } from './bench-report.ts';
import type { BenchResults } from './bench-results.ts';

const summary = (tps: number) => ({ tps, latencyAverageMs: 8000 / tps, transactions: tps * 10, failedTransactions: 0, initialConnectionMs: 30 });

const results: BenchResults = {
  generatedAt: '2026-01-01T00:00:00.000Z',
  machine: { nproc: 2, cpuModel: 'test cpu', loadAverageAtStart: [0.5, 0.4, 0.3], node: 'v20.0.0', platform: 'Linux', postgres: '15', pgbench: 'pgbench 15' },
  settings: { seconds: 10, warmupSeconds: 2, clients: [8], threads: 2, scale: 1, engine: 'rego', script: '-S', audit: 'file' },
  results: [
    { mode: 'simple', clients: 8, direct: { summary: summary(10_000), exitCode: 0, error: null }, pgbouncer: { summary: summary(8_000), exitCode: 0, error: null, proxyCpuMicrosPerTransaction: 20 }, gatehouse: { summary: summary(5_000), exitCode: 0, error: null, proxyCpuMicrosPerTransaction: 40 }, ratio: 0.5 },
    { mode: 'extended', clients: 8, direct: { summary: summary(9_000), exitCode: 0, error: null }, pgbouncer: { summary: summary(7_000), exitCode: 0, error: null, proxyCpuMicrosPerTransaction: 25 }, gatehouse: { summary: null, exitCode: 2, error: 'pgbench: error: denied' }, ratio: null },
  ],
  decisions: [{ engine: 'rego', inputs: 40, decisions: 2000, medianMicros: 12.34, p99Micros: 80.5, meanMicros: 15 }],
  activation: [
    { engine: 'rego', commits: 5, samplesMs: [900, 1100, 1000, 1300, 950], medianMs: 1000, maxMs: 1300, failures: [] },
    { engine: 'cedar', commits: 5, samplesMs: [300, 310, 320, 330], medianMs: 315, maxMs: 330, failures: ['commit 3 (0123456789ab): refused: policy tests failed'] },
  ],
};

describe('renderMarkdown', () => {
  it('renders one table row per client count and mode, the three targets side by side, with failures spelled out', () => {
    const text = renderMarkdown(results);
    expect(text).toContain('| 8 | simple | 10000 | 8000 | 5000 | 0.63× | 0.50× | 20.0 | 40.0 | 2.00× |');
    expect(text).toContain('| 8 | extended | 9000 | 7000 | n/a | n/a | n/a | 25.0 | n/a | n/a |');
    expect(text).toContain('- c=8 extended, Gatehouse: `pgbench: error: denied`');
    expect(text).toContain('nproc: 2');
    expect(text).toContain('| rego | 2000 | 12.3 | 80.5 | 15.0 |');
  });

  it('renders the activation section: per engine, commits, activated, median and max ms, and what failed', () => {
    const text = renderMarkdown(results);
    expect(text).toContain('## Policy activation');
    expect(text).toContain('| rego | 5 | 5 | 1000 | 1300 |');
    expect(text).toContain('| cedar | 5 | 4 | 315 | 330 |');
    expect(text).toContain('- cedar: commit 3 (0123456789ab): refused: policy tests failed');
    expect(text.indexOf('## Policy activation')).toBeLessThan(text.indexOf('## Machine'));
  });

  it('leaves the activation section out when it was not measured', () => {
    expect(renderMarkdown({ ...results, activation: [] })).not.toContain('## Policy activation');
  });

  it('says the pgbench part did not run when only the isolation harness did', () => {
    const text = renderMarkdown({ ...results, results: [], decisions: [], activation: [] });
    expect(text).toContain('were not run this time (`--only isolation`)');
    expect(text).not.toContain('| clients | mode | direct TPS');
    expect(text).not.toContain('## Isolation');
  });

  it('renders the approve-rules comparison when it was measured, and leaves it out otherwise', () => {
    expect(renderMarkdown(results)).not.toContain('## Approve rules');
    const withComparison: BenchResults = {
      ...results,
      results: [{ ...results.results[0]!, gatehouseWithoutApprove: { summary: summary(4_000), exitCode: 0, error: null, proxyCpuMicrosPerTransaction: 38 } }],
    };
    const text = renderMarkdown(withComparison);
    expect(text).toContain('## Approve rules');
    expect(text).toContain('| 8 | simple | 5000 | 4000 | 1.25× | 40.0 | 38.0 | 0 / 0 |');
  });
});
