// The bench's "Policy decisions" section and its part of the verdict against issue 8: the corpus
// (decision-timing.ts) and the pgbench statement uncached and cached (pgbench-decision-timing.ts),
// per engine. Pure: renders and judges, measures nothing.
import type { DecisionTiming } from './decision-timing.ts';
import type { PgbenchDecisionTiming } from './pgbench-decision-timing.ts';

/** Issue 8's decision targets. */
export const DECISION_TARGETS = {
  /** A decision answered from the cache, the whole decision point path, median µs. */
  cachedMaxMicros: 2,
  /** One uncached Rego evaluation of the pgbench statement, median µs. */
  regoUncachedMaxMicros: 20,
  /** Cedar's uncached median at most this many times Rego's. */
  cedarRatioMax: 3,
} as const;

export interface DecisionCriterion {
  criterion: string;
  measured: string;
  met: boolean | null;
}

const us = (x: number): string => x.toFixed(1);

export function renderDecisions(corpus: readonly DecisionTiming[], pgbench: readonly PgbenchDecisionTiming[]): string[] {
  const lines = [
    '## Policy decisions',
    '',
    'Time for one `engine.evaluate(input)` on the example policies (no decision cache), over a corpus of',
    'typical statements for each example identity, measured in the same run.',
    '',
    '| engine | decisions timed | median (µs) | p99 (µs) | mean (µs) |',
    '|---|---:|---:|---:|---:|',
    ...corpus.map((d) => `| ${d.engine} | ${d.decisions} | ${us(d.medianMicros)} | ${us(d.p99Micros)} | ${us(d.meanMicros)} |`),
    '',
  ];
  if (pgbench.length === 0) return lines;
  return [
    ...lines,
    'The statement `pgbench -S` sends (`SELECT abalance FROM pgbench_accounts WHERE aid = ...`), for the bench',
    'identity (group `bench`), with the input the decision point builds for it. **Uncached**: one',
    '`engine.evaluate(input)`, as a statement of a new shape or a new identity pays (in the gateway it runs on',
    'an evaluation thread, plus the message to it and back). **Cached**: the whole path of a statement whose',
    'verdict is in the decision cache, as the gateway runs it (`decideQuery`: parse cache, catalog facts,',
    'policy input, cache key and lookup, the audit record built and handed to a sink that drops it):',
    'the simple Query with a new literal each time, the extended Parse (unbound) and Execute ($1 bound, audited).',
    '',
    '| engine | decision | median (µs) | p99 (µs) | mean (µs) | timed |',
    '|---|---|---:|---:|---:|---:|',
    ...pgbench.flatMap((t) => [
      ...t.uncached.map((r) => `| ${t.engine} | uncached, ${r.form} | ${us(r.stats.medianMicros)} | ${us(r.stats.p99Micros)} | ${us(r.stats.meanMicros)} | ${r.stats.samples} |`),
      ...t.cached.map((r) => `| ${t.engine} | cached, ${r.form} | ${r.stats.medianMicros.toFixed(2)} | ${us(r.stats.p99Micros)} | ${us(r.stats.meanMicros)} | ${r.stats.samples} |`),
      ...(t.cached.length === 0 ? [`| ${t.engine} | cached | not cached (the engine is not deterministic) | | | |`] : []),
      ...(t.cached.length > 0 && !t.allHits ? [`| ${t.engine} | cached | some timed decisions were evaluated, not answered from the cache | | | |`] : []),
    ]),
    '',
  ];
}

/** The worst median of a set of rows, or null when there are none. */
function worstMedian(rows: ReadonlyArray<{ stats: { medianMicros: number } }>): number | null {
  return rows.length === 0 ? null : Math.max(...rows.map((r) => r.stats.medianMicros));
}

/** Issue 8's decision numbers against this run: each judged on the worst form (simple or extended). */
export function judgeDecisions(pgbench: readonly PgbenchDecisionTiming[]): DecisionCriterion[] {
  const out: DecisionCriterion[] = [];
  const rego = pgbench.find((t) => t.engine === 'rego');
  const cedar = pgbench.find((t) => t.engine === 'cedar');
  for (const t of pgbench) {
    const cached = t.allHits ? worstMedian(t.cached) : null;
    out.push({
      criterion: `cached decision ≤ ${DECISION_TARGETS.cachedMaxMicros} µs (median, pgbench statement, ${t.engine})`,
      measured: cached === null ? 'not measured' : `${cached.toFixed(2)} µs (worst of ${t.cached.map((r) => r.form).join(', ')})`,
      met: cached === null ? null : cached <= DECISION_TARGETS.cachedMaxMicros,
    });
  }
  const regoUncached = rego === undefined ? null : worstMedian(rego.uncached);
  out.push({
    criterion: `uncached Rego decision ≤ ${DECISION_TARGETS.regoUncachedMaxMicros} µs (median, pgbench statement)`,
    measured: regoUncached === null ? 'not measured' : `${us(regoUncached)} µs`,
    met: regoUncached === null ? null : regoUncached <= DECISION_TARGETS.regoUncachedMaxMicros,
  });
  const cedarUncached = cedar === undefined ? null : worstMedian(cedar.uncached);
  const ratio = regoUncached === null || cedarUncached === null || regoUncached <= 0 ? null : cedarUncached / regoUncached;
  out.push({
    criterion: `Cedar within ${DECISION_TARGETS.cedarRatioMax}× of Rego (uncached median, pgbench statement)`,
    measured: ratio === null ? 'not measured' : `${ratio.toFixed(1)}× (${us(cedarUncached!)} vs ${us(regoUncached!)} µs)`,
    met: ratio === null ? null : ratio <= DECISION_TARGETS.cedarRatioMax,
  });
  return out;
}
