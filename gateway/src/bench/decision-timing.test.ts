import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decisionCorpus, measureDecisionTimings } from './decision-timing.ts';
import { loadSqlParser } from '../sql/parser.ts';

const POLICIES = resolve(import.meta.dirname, '../../../policies');

describe('decision timing', () => {
  it('builds a corpus covering every example identity and statement', async () => {
    await loadSqlParser();
    const inputs = decisionCorpus();
    expect(inputs).toHaveLength(40);
    expect(new Set(inputs.map((i) => i.identity.groups[0]))).toEqual(new Set(['agents', 'breakglass', 'bench', 'nobody']));
  });

  it('reports one timing per engine with consistent percentiles', async () => {
    const timings = await measureDecisionTimings({
      policiesRoot: POLICIES,
      buildDir: mkdtempSync(join(tmpdir(), 'gatehouse-timing-')),
      engines: ['rego', 'cedar'],
      rounds: 2,
    });
    expect(timings.map((t) => t.engine)).toEqual(['rego', 'cedar']);
    for (const t of timings) {
      expect(t.decisions).toBe(80);
      expect(t.medianMicros).toBeGreaterThan(0);
      expect(t.p99Micros).toBeGreaterThanOrEqual(t.medianMicros);
    }
  });
});
