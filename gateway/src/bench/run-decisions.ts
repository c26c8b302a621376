// `gatehouse bench --only decisions`: the bench's policy decision section alone (the corpus and the
// pgbench statement, uncached and cached, both engines), printed with its part of the verdict and
// the load average, not written to bench-results (a partial run must not replace latest.md).
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { judgeDecisions, renderDecisions } from './decision-report.ts';
import { measureDecisionTimings } from './decision-timing.ts';
import { measurePgbenchDecisions, PGBENCH_DECISIONS } from './pgbench-decision-timing.ts';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export interface DecisionsOnlyOptions {
  /** Passes over the corpus per engine. */
  rounds: number;
  print: (line: string) => void;
}

const load = (): string => os.loadavg().map((x) => x.toFixed(2)).join(' ');

export async function runDecisionsOnly(options: DecisionsOnlyOptions): Promise<number> {
  const { print } = options;
  const buildDir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-bench-decisions-'));
  try {
    const atStart = load();
    const policiesRoot = path.join(REPO_ROOT, 'policies');
    const corpus = await measureDecisionTimings({ policiesRoot, buildDir, engines: ['rego', 'cedar'], rounds: options.rounds });
    const pgbench = await measurePgbenchDecisions({ policiesRoot, buildDir, engines: ['rego', 'cedar'], decisions: PGBENCH_DECISIONS });
    for (const line of renderDecisions(corpus, pgbench)) print(line);
    for (const c of judgeDecisions(pgbench)) print(`- ${c.criterion}: ${c.measured} (${c.met === null ? 'n/a' : c.met ? 'met' : 'not met'})`);
    print('');
    print(`load average ${atStart} at the start, ${load()} at the end, on ${os.availableParallelism()} cores`);
    return 0;
  } finally {
    await rm(buildDir, { recursive: true, force: true });
  }
}
