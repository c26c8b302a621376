// Decision time of the statement `pgbench -S` sends, for the bench identity, as the gateway decides
// it: uncached, one `engine.evaluate(input)` of the input the decision point builds (simple Query with
// a literal; extended Execute with $1 bound); cached, the whole decision point path of a cache hit
// (`decideQuery`: parse-cache lookup, catalog facts, policy input, cache key and lookup, audit record
// handed to a sink that only counts). Issue 8 names these figures; the corpus (decision-timing.ts)
// stays beside them.

import type { AuditSink } from '../audit/types.ts';
import { DecisionCache } from '../enforce/decision-cache.ts';
import type { DecisionContext } from '../enforce/decision-context.ts';
import { decideQuery } from '../enforce/decision-point.ts';
import { RelationCatalog } from '../enforce/relation-catalog.ts';
import { RoutineCatalog } from '../enforce/routine-catalog.ts';
import { loadPolicyEngine } from '../policy/load.ts';
import type { EngineKind, PolicyEngine, PolicyInput } from '../policy/types.ts';
import { loadSqlParser } from '../sql/parser.ts';
import { microsStats, type MicrosStats } from './decision-timing.ts';

/** The statement of pgbench's select-only script, as each protocol sends it. */
export const PGBENCH_EXTENDED_TEXT = 'SELECT abalance FROM pgbench_accounts WHERE aid = $1;';
export const pgbenchSimpleText = (aid: number): string => `SELECT abalance FROM pgbench_accounts WHERE aid = ${aid};`;

export type PgbenchDecisionForm = 'simple' | 'extended Parse' | 'extended Execute';

export interface PgbenchDecisionTiming {
  engine: EngineKind;
  /** One `engine.evaluate` of the statement's input, no cache: simple and extended Execute. */
  uncached: Array<{ form: PgbenchDecisionForm; stats: MicrosStats }>;
  /** `decideQuery` answered from the decision cache, per form; empty when the engine's verdicts are not cached. */
  cached: Array<{ form: PgbenchDecisionForm; stats: MicrosStats }>;
  /** Whether every timed decision of the cached rows was a cache hit (no evaluation). */
  allHits: boolean;
}

const AID_RANGE = 100_000;

/** Timed decisions per row in the bench (after as many warm-up calls). */
export const PGBENCH_DECISIONS = 5_000;

/** The bench database's pgbench_accounts, as the gateway's catalog snapshot holds it. */
function pgbenchRelations(): RelationCatalog {
  const column = (name: string, attnum: number, type: string, typeOid: number, category: string) => ({ name, attnum, type, typeOid, category });
  return new RelationCatalog(
    [
      {
        oid: 16400,
        schema: 'public',
        name: 'pgbench_accounts',
        qualified: 'public.pgbench_accounts',
        kind: 'table',
        persistence: 'permanent',
        columns: [column('aid', 1, 'integer', 23, 'N'), column('bid', 2, 'integer', 23, 'N'), column('abalance', 3, 'integer', 23, 'N'), column('filler', 4, 'character', 1042, 'S')],
        reads: [],
        ancestors: [],
        keys: [{ kind: 'unique', name: 'pgbench_accounts_pkey', columns: ['aid'] }],
        lockable: 'read',
      },
    ],
    { hash: true },
  );
}

/** An engine that counts its evaluations and keeps the last input it was asked about. */
interface Observed {
  engine: PolicyEngine;
  evaluations: () => number;
  lastInput: () => PolicyInput | null;
}

function observed(engine: PolicyEngine): Observed {
  let count = 0;
  let last: PolicyInput | null = null;
  const wrapper: PolicyEngine = Object.assign(Object.create(null) as PolicyEngine, engine, {
    evaluate(input: PolicyInput) {
      count++;
      last = input;
      return engine.evaluate(input);
    },
  });
  return { engine: wrapper, evaluations: () => count, lastInput: () => last };
}

/** The decision context of one bench session (identity of group `bench`, as the bench's token). */
export function pgbenchDecisionContext(engine: PolicyEngine, audit: AuditSink): DecisionContext {
  const relations = pgbenchRelations();
  const routines = new RoutineCatalog([{ kind: 'operator', schema: 'pg_catalog', name: '=', harmless: true, retset: false }]);
  return {
    identity: { subject: 'bench', issuer: 'https://gatehouse.dev.invalid', groups: ['bench'], roles: [], name: null },
    session: { id: '0a5e22a3-2e8f-4715-b90e-9be58353fe75', clientAddress: '127.0.0.1', applicationName: 'pgbench', database: 'gatehouse_bench', user: 'bench', tls: false },
    searchPath: ['public'],
    engines: { current: () => engine },
    audit,
    evalTimeoutMs: 5000,
    cache: new DecisionCache(),
    routines: { current: () => routines },
    relations: { current: () => relations, refreshSoon: () => undefined },
  };
}

/** Takes the records and drops them: their writing is the audit's cost, measured elsewhere. */
const COUNTING_SINK: AuditSink = {
  write: () => undefined,
  writeSoon: () => undefined,
  whenDurable: (done) => done(null),
  close: () => Promise.resolve(),
};

export type Decide = (i: number) => void;

function forms(ctx: DecisionContext): Record<PgbenchDecisionForm, Decide> {
  const forward = (d: ReturnType<typeof decideQuery>): void => {
    if (d instanceof Promise || d.kind !== 'forward') {
      throw new Error(`the pgbench statement was not forwarded at once (${d instanceof Promise ? 'a promise' : d.kind}): the bench policies must allow it`);
    }
  };
  return {
    simple: (i) => forward(decideQuery(ctx, pgbenchSimpleText((i % AID_RANGE) + 1), 'simple')),
    'extended Parse': () => forward(decideQuery(ctx, PGBENCH_EXTENDED_TEXT, 'extended', { auditForwarded: false, parameters: 'unbound' })),
    'extended Execute': (i) =>
      forward(decideQuery(ctx, PGBENCH_EXTENDED_TEXT, 'extended', { auditForwarded: true, parameters: [Buffer.from(String((i % AID_RANGE) + 1))] })),
  };
}

function timeEach(n: number, run: (i: number) => void): MicrosStats {
  const samples: number[] = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const start = process.hrtime.bigint();
    run(i);
    samples[i] = Number(process.hrtime.bigint() - start) / 1000;
  }
  return microsStats(samples);
}

const CACHED_FORMS = ['simple', 'extended Parse', 'extended Execute'] as const;

/**
 * Times each form `decisions` times after warming every form as many times: they share most of their
 * code, so warming each just before its own row left the first-timed row (the simple Query) paying
 * V8's tier-up for all of them. A gateway decides the same statements for hours: the steady state is
 * what the figures mean. `warm`: called between the warm-up and the first timed call.
 */
export function timeWarmedForms<F extends string>(forms: readonly F[], decide: Record<F, Decide>, decisions: number, warm: () => void = () => undefined): Array<{ form: F; stats: MicrosStats }> {
  for (const form of forms) for (let i = 0; i < decisions; i++) decide[form](i);
  warm();
  return forms.map((form) => ({ form, stats: timeEach(decisions, decide[form]) }));
}

/**
 * Times one engine; `decisions` samples per row after as many warm-up calls (the cached rows' warm-up
 * runs every form before the first is timed). Never asserts a duration.
 */
export function timePgbenchDecisions(engine: PolicyEngine, decisions: number): PgbenchDecisionTiming {
  const o = observed(engine);
  const ctx = pgbenchDecisionContext(o.engine, COUNTING_SINK);
  const decide = forms(ctx);
  const uncached: PgbenchDecisionTiming['uncached'] = [];
  for (const form of ['simple', 'extended Execute'] as const) {
    decide[form](0);
    const input = o.lastInput();
    if (input === null) throw new Error(`the ${form} pgbench statement was not evaluated`);
    for (let i = 0; i < decisions; i++) engine.evaluate(input);
    uncached.push({ form, stats: timeEach(decisions, () => engine.evaluate(input)) });
  }
  let cached: PgbenchDecisionTiming['cached'] = [];
  let allHits = engine.deterministic;
  if (engine.deterministic) {
    let before = 0;
    cached = timeWarmedForms(CACHED_FORMS, decide, decisions, () => (before = o.evaluations()));
    if (o.evaluations() !== before) allHits = false;
  }
  return { engine: engine.kind, uncached, cached, allHits };
}

/** Loads each engine on the example policies and times the pgbench statement's decisions. */
export async function measurePgbenchDecisions(opts: { policiesRoot: string; buildDir: string; engines: EngineKind[]; decisions: number }): Promise<PgbenchDecisionTiming[]> {
  await loadSqlParser();
  const timings: PgbenchDecisionTiming[] = [];
  for (const kind of opts.engines) {
    const engine = await loadPolicyEngine({ engine: kind, directory: `${opts.policiesRoot}/${kind}`, buildDir: opts.buildDir });
    timings.push(timePgbenchDecisions(engine, opts.decisions));
  }
  return timings;
}

/** One line per engine for the bench's progress output. */
export function describePgbenchDecisions(timings: readonly PgbenchDecisionTiming[]): string[] {
  const rows = (rs: PgbenchDecisionTiming['uncached']): string => rs.map((r) => `${r.form} ${r.stats.medianMicros.toFixed(2)}`).join(', ');
  return timings.map((t) => `${t.engine}, pgbench statement, median µs: uncached ${rows(t.uncached)}; cached ${t.cached.length === 0 ? 'not cached' : rows(t.cached)}${t.allHits ? '' : ' (not all hits)'}`);
}
