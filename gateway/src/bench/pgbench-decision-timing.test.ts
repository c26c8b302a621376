import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPolicyEngine } from '../policy/load.ts';
import type { PolicyEngine } from '../policy/types.ts';
import { loadSqlParser } from '../sql/parser.ts';
import { measurePgbenchDecisions, timePgbenchDecisions, timeWarmedForms } from './pgbench-decision-timing.ts';

const POLICIES = resolve(import.meta.dirname, '../../../policies');

describe('pgbench statement decision timing', () => {
  it('times the uncached evaluation and the cached decision point path for each engine, every cached row a hit', async () => {
    const timings = await measurePgbenchDecisions({ policiesRoot: POLICIES, buildDir: mkdtempSync(join(tmpdir(), 'gatehouse-pgbench-timing-')), engines: ['rego', 'cedar'], decisions: 20 });
    expect(timings.map((t) => t.engine)).toEqual(['rego', 'cedar']);
    for (const t of timings) {
      expect(t.uncached.map((r) => r.form)).toEqual(['simple', 'extended Execute']);
      expect(t.cached.map((r) => r.form)).toEqual(['simple', 'extended Parse', 'extended Execute']);
      expect(t.allHits).toBe(true);
      for (const r of [...t.uncached, ...t.cached]) {
        expect(r.stats.samples).toBe(20);
        expect(r.stats.p99Micros).toBeGreaterThanOrEqual(r.stats.medianMicros);
      }
    }
  });

  it('times no cached path for an engine whose verdicts are not reused, and says the hits were not all hits', async () => {
    await loadSqlParser();
    const rego = await loadPolicyEngine({ engine: 'rego', directory: join(POLICIES, 'rego'), buildDir: mkdtempSync(join(tmpdir(), 'gatehouse-pgbench-timing-')) });
    const notDeterministic: PolicyEngine = { ...rego, deterministic: false };
    const t = timePgbenchDecisions(notDeterministic, 5);
    expect(t.uncached).toHaveLength(2);
    expect(t.cached).toEqual([]);
    expect(t.allHits).toBe(false);
  });

  it('warms every form before it times the first, so no timed row pays the others\' warm-up', () => {
    const calls: string[] = [];
    const decide = { a: () => void calls.push('a'), b: () => void calls.push('b') };
    let warmedAt = -1;
    const rows = timeWarmedForms(['a', 'b'], decide, 3, () => (warmedAt = calls.length));
    expect(rows.map((r) => [r.form, r.stats.samples])).toEqual([['a', 3], ['b', 3]]);
    expect(warmedAt).toBe(6);
    expect(calls.join('')).toBe('aaabbbaaabbb');
  });

  it('refuses to time a policy that does not forward the statement', async () => {
    await loadSqlParser();
    const rego = await loadPolicyEngine({ engine: 'rego', directory: join(POLICIES, 'rego'), buildDir: mkdtempSync(join(tmpdir(), 'gatehouse-pgbench-timing-')) });
    const denies: PolicyEngine = { ...rego, evaluate: () => ({ action: 'deny', reason: 'no', policies: ['test-deny'], masks: [] }) };
    expect(() => timePgbenchDecisions(denies, 5)).toThrow(/was not forwarded at once \(refuse\)/);
  });
});
