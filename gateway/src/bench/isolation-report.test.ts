import { describe, expect, it } from 'vitest';
import { judge, renderIsolation, type IsolationResults, type PhaseResult } from './isolation-report.ts';
import { summarize } from './latency-stats.ts';

function phase(name: PhaseResult['name'], samples: number[], errors: string[] = []): PhaseResult {
  const s = summarize(samples);
  return { name, seconds: 10, latency: s, byKind: { allowed: s, masked: s, denied: s }, errors: errors.length, errorSamples: errors };
}

describe('judge', () => {
  it('passes when p99 stays within 3×, nothing failed and RSS grew under 20%', () => {
    const v = judge([phase('baseline', [1, 2, 10]), phase('hostile', [1, 2, 29]), phase('recovery', [1])], 100, 119, null);
    expect(v).toMatchObject({ p99WithinThreeTimes: true, wellBehavedErrors: 0, rssWithinTwentyPercent: true, passed: true });
    expect(v.p99Ratio).toBeCloseTo(2.9);
  });

  it('fails on each criterion alone, and when the gateway exited', () => {
    expect(judge([phase('baseline', [10]), phase('hostile', [31])], 100, 100, null)).toMatchObject({ p99WithinThreeTimes: false, passed: false });
    expect(judge([phase('baseline', [10]), phase('hostile', [10], ['boom'])], 100, 100, null)).toMatchObject({ wellBehavedErrors: 1, passed: false });
    expect(judge([phase('baseline', [10]), phase('hostile', [10])], 100, 121, null)).toMatchObject({ rssWithinTwentyPercent: false, passed: false });
    expect(judge([phase('baseline', [10]), phase('hostile', [10])], 100, 100, 'signal SIGABRT').passed).toBe(false);
  });

  it('judges a soak (no hostile phase) on errors and RSS only', () => {
    const v = judge([phase('soak', [5, 6])], 300, 310, null);
    expect(v.p99Ratio).toBeNull();
    expect(v.p99WithinThreeTimes).toBeNull();
    expect(v.passed).toBe(true);
  });
});

describe('renderIsolation', () => {
  const phases = [phase('baseline', [1, 2, 10]), phase('hostile', [1, 2, 50], ['masked statement: 08006: connection lost']), phase('recovery', [1, 3])];
  const results: IsolationResults = {
    generatedAt: '2026-01-01T00:00:00.000Z',
    settings: { sessions: 200, warmupSeconds: 10, phaseSeconds: 30, thinkMs: 200, engine: 'rego', hostileActions: ['many-statements', 'big-literal'], notes: ['no slow rule'], upstream: 'private' },
    machine: { nproc: 2, loadAverageAtStart: [1, 2, 3], loadAverageAtEnd: [4, 5, 6] },
    connectSeconds: 3.2,
    phases,
    hostile: [{ action: 'many-statements', sent: 3, outcomes: { '54000': 2, 'connection lost': 1 }, maxMs: 120 }],
    rss: [
      { atSeconds: 1, phase: 'warmup', rssMiB: 200 },
      { atSeconds: 2, phase: 'hostile', rssMiB: 300 },
    ],
    windows: [
      { atSeconds: 0, phase: 'baseline', statements: 10, p99Ms: 5, maxMs: 6 },
      { atSeconds: 5, phase: 'hostile', statements: 2, p99Ms: 900, maxMs: 950 },
    ],
    rssBeforeMiB: 200,
    rssAfterMiB: 300,
    rssIdleMiB: 290,
    gatewayExit: null,
    gatewayLog: ['relation snapshot: could not read'],
    verdict: judge(phases, 200, 300, null),
  };

  it('renders one row per phase, the hostile outcomes, the verdict with its figures, and the RSS timeline', () => {
    const text = renderIsolation(results).join('\n');
    expect(text).toContain('| baseline | 10 | 3 | 2.00 | 10 | 10 | 10 | 10 | 10 | 0 |');
    expect(text).toContain('| hostile | 10 | 3 | 2.00 | 50 | 50 | 50 | 50 | 50 | 1 |');
    expect(text).toContain('- hostile: `masked statement: 08006: connection lost`');
    expect(text).toContain('| many-statements | 3 | 54000 × 2, connection lost × 1 | 120 |');
    expect(text).toContain('Verdict against issue 11 (**FAIL**)');
    expect(text).toContain('p99 with the hostile client within 3× of without: **no** (5.00×)');
    expect(text).toContain('before 200 MiB, after 300 MiB, 1.50×; 290 MiB once the sessions closed');
    expect(text).toContain('| 2 | hostile | 300 |');
    expect(text).toContain('Note: no slow rule');
    expect(text).toContain('| 5 | hostile | 2 | 900 | 950 |');
  });
});
