// Per-decision evaluation time of each policy engine on the example policies: the statements a
// demo session sends, for each example identity, evaluated directly (no decision cache).

import type { EngineKind, Identity, PolicyEngine, SessionInfo } from '../policy/types.ts';
import { buildPolicyInput } from '../policy/input.ts';
import { loadPolicyEngine } from '../policy/load.ts';
import type { PolicyInput } from '../policy/types.ts';
import { analyzeQuery, loadSqlParser } from '../sql/parser.ts';
import { percentile } from './latency-stats.ts';

export interface DecisionTiming {
  engine: EngineKind;
  /** Distinct inputs in the corpus and how many timed decisions were taken over them. */
  inputs: number;
  decisions: number;
  medianMicros: number;
  p99Micros: number;
  meanMicros: number;
}

const STATEMENTS = [
  'SELECT id, diagnosis_code FROM clinical.patients ORDER BY id LIMIT 5',
  'SELECT first_name, ssn, phone, email FROM clinical.patients WHERE id = $1',
  'SELECT v.visit_date, v.reason FROM clinical.visits v JOIN clinical.patients p ON p.id = v.patient_id WHERE p.id = 3',
  "UPDATE clinical.patients SET phone = '555-0100' WHERE id = 7",
  'DELETE FROM clinical.visits',
  'DROP TABLE clinical.visits',
  "SELECT pg_read_file('/etc/passwd')",
  'SELECT abalance FROM public.pgbench_accounts WHERE aid = $1',
  'BEGIN',
  "SELECT c.relname FROM pg_catalog.pg_class c WHERE c.relname OPERATOR(pg_catalog.~) '^(patients)$'",
];

const GROUPS: string[][] = [['agents'], ['breakglass'], ['bench'], ['nobody']];

const SESSION: SessionInfo = {
  id: 'bench',
  clientAddress: '127.0.0.1',
  applicationName: 'bench',
  database: 'postgres',
  user: 'bench',
  tls: false,
};

/** The corpus: every statement for every identity, as the gateway would build it. */
export function decisionCorpus(): PolicyInput[] {
  const inputs: PolicyInput[] = [];
  for (const groups of GROUPS) {
    const identity: Identity = { subject: `bench-${groups.join('-')}`, issuer: 'https://bench.invalid', groups, roles: [], name: null };
    for (const text of STATEMENTS) {
      const outcome = analyzeQuery(text);
      if (!outcome.ok) throw new Error(`bench statement does not parse: ${text}`);
      for (const s of outcome.statements) {
        inputs.push(buildPolicyInput({ identity, session: SESSION, text: s.text, protocol: 'extended', facts: s.facts }));
      }
    }
  }
  return inputs;
}

/** Median, p99 and mean of microsecond samples. */
export interface MicrosStats {
  samples: number;
  medianMicros: number;
  p99Micros: number;
  meanMicros: number;
}

export function microsStats(samples: readonly number[]): MicrosStats {
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length);
  return { samples: sorted.length, medianMicros: percentile(sorted, 50) ?? 0, p99Micros: percentile(sorted, 99) ?? 0, meanMicros: mean };
}

/** Times `rounds` passes over the corpus after a warm-up pass; never asserts anything. */
export function timeDecisions(engine: PolicyEngine, inputs: PolicyInput[], rounds: number): DecisionTiming {
  for (const input of inputs) engine.evaluate(input);
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const input of inputs) {
      const start = process.hrtime.bigint();
      engine.evaluate(input);
      samples.push(Number(process.hrtime.bigint() - start) / 1000);
    }
  }
  const stats = microsStats(samples);
  return {
    engine: engine.kind,
    inputs: inputs.length,
    decisions: stats.samples,
    medianMicros: stats.medianMicros,
    p99Micros: stats.p99Micros,
    meanMicros: stats.meanMicros,
  };
}

/** Loads each engine on the example policies and times its decisions. */
export async function measureDecisionTimings(opts: {
  policiesRoot: string;
  buildDir: string;
  engines: EngineKind[];
  rounds: number;
}): Promise<DecisionTiming[]> {
  await loadSqlParser();
  const inputs = decisionCorpus();
  const timings: DecisionTiming[] = [];
  for (const kind of opts.engines) {
    const engine = await loadPolicyEngine({ engine: kind, directory: `${opts.policiesRoot}/${kind}`, buildDir: opts.buildDir });
    timings.push(timeDecisions(engine, inputs, opts.rounds));
  }
  return timings;
}
