import { describe, expect, it } from 'vitest';
import { judgeDecisions, renderDecisions } from './decision-report.ts';
import type { PgbenchDecisionTiming } from './pgbench-decision-timing.ts';

const stats = (median: number) => ({ samples: 100, medianMicros: median, p99Micros: median * 3, meanMicros: median * 1.5 });

function timing(engine: 'rego' | 'cedar', uncached: number, cached: number, allHits = true): PgbenchDecisionTiming {
  return {
    engine,
    uncached: [
      { form: 'simple', stats: stats(uncached) },
      { form: 'extended Execute', stats: stats(uncached - 1) },
    ],
    cached: [
      { form: 'simple', stats: stats(cached) },
      { form: 'extended Parse', stats: stats(cached / 2) },
      { form: 'extended Execute', stats: stats(cached / 2) },
    ],
    allHits,
  };
}

describe('decision report', () => {
  it('renders the corpus and, per engine, the pgbench statement uncached and cached', () => {
    const text = renderDecisions([{ engine: 'rego', inputs: 40, decisions: 80, medianMicros: 30, p99Micros: 90, meanMicros: 40 }], [timing('rego', 18, 1.5)]).join('\n');
    expect(text).toContain('| rego | 80 | 30.0 | 90.0 | 40.0 |');
    expect(text).toContain('| rego | uncached, simple | 18.0 | 54.0 | 27.0 | 100 |');
    expect(text).toContain('| rego | cached, extended Parse | 0.75 | 2.3 | 1.1 | 100 |');
  });

  it('says when an engine was not cached or a timed decision missed the cache', () => {
    const notCached: PgbenchDecisionTiming = { ...timing('rego', 18, 1), cached: [], allHits: false };
    expect(renderDecisions([], [notCached]).join('\n')).toContain('not cached (the engine is not deterministic)');
    expect(renderDecisions([], [timing('cedar', 40, 1, false)]).join('\n')).toContain('some timed decisions were evaluated');
  });

  it('judges the worst form of each engine against issue 8, and Cedar against Rego', () => {
    const met = judgeDecisions([timing('rego', 18, 1.5), timing('cedar', 50, 1.9)]);
    expect(met.map((c) => c.met)).toEqual([true, true, true, true]);
    expect(met[3]!.measured).toBe('2.8× (50.0 vs 18.0 µs)');
    const missed = judgeDecisions([timing('rego', 21, 2.1), timing('cedar', 62, 1, false)]);
    expect(missed.map((c) => c.met)).toEqual([false, null, false, true]);
  });

  it('judges nothing it did not measure', () => {
    expect(judgeDecisions([]).map((c) => c.met)).toEqual([null, null]);
  });
});
