// Gatehouse's Prometheus metrics (prom-client), one registry per running gateway: what each
// counts is documented in docs/operations.md; the names here and there must agree.

import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { BucketHistogram } from './bucket-histogram.ts';
import type { EngineKind } from '../policy/types.ts';

/** What the gauges read when scraped. */
export interface GaugeSources {
  sessions(): number;
  upstreamConnections(): number;
  /** The policy deciding now, or null before one is active. */
  policy(): { engine: EngineKind; revision: string } | null;
  /** The verdicts shared by all sessions (enforce/decision-cache.ts). */
  decisionCache(): { entries: number; bytes: number; hits: number; misses: number };
}

export interface GatewayMetrics {
  registry: Registry;
  statements: Counter<'decision' | 'engine'>;
  /**
   * Counts a statement in gatehouse_statements_total: a plain number on the hot path, handed to the
   * counter when it is scraped (prom-client's inc validates and hashes its labels every call).
   */
  countStatement(decision: string, engine: string): void;
  /** Histograms counted in typed arrays (metrics/bucket-histogram.ts): keep a series from labels() on hot paths. */
  evaluationSeconds: BucketHistogram<'engine'>;
  auditWriteSeconds: BucketHistogram;
  auditWriteFailures: Counter;
  policyActivations: Counter<'outcome'>;
  sessionEvents: Counter<'event'>;
  upstreamConnectFailures: Counter;
  approvalNotifications: Counter<'target' | 'outcome'>;
}

/** Policy evaluations take microseconds to a few milliseconds; the budget is policies.eval_timeout_ms. */
const EVALUATION_BUCKETS = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1];
/** A synchronous write(2) (fsync off) takes microseconds; with fsync, a disk flush. */
const AUDIT_BUCKETS = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1];

export function createGatewayMetrics(sources: GaugeSources): GatewayMetrics {
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: 'gatehouse_sessions',
    help: 'Client sessions open now (authenticated, with an upstream connection).',
    registers,
    collect() {
      this.set(sources.sessions());
    },
  });
  new Gauge({
    name: 'gatehouse_upstream_connections',
    help: 'Connections to the upstream database open now (one per client session, no pooling).',
    registers,
    collect() {
      this.set(sources.upstreamConnections());
    },
  });
  new Gauge({
    name: 'gatehouse_policy_info',
    help: 'The active policy: always 1, labelled with its engine and revision (a git commit or dir:<sha256>).',
    labelNames: ['engine', 'revision'],
    registers,
    collect() {
      this.reset();
      const active = sources.policy();
      if (active !== null) this.set({ engine: active.engine, revision: active.revision }, 1);
    },
  });
  new Gauge({
    name: 'gatehouse_decision_cache_entries',
    help: 'Verdicts kept for reuse by all sessions (emptied when a policy is activated).',
    registers,
    collect() {
      this.set(sources.decisionCache().entries);
    },
  });
  new Gauge({
    name: 'gatehouse_decision_cache_bytes',
    help: 'Estimated bytes of the verdicts kept for reuse and their keys.',
    registers,
    collect() {
      this.set(sources.decisionCache().bytes);
    },
  });
  new Counter({
    name: 'gatehouse_decision_cache_lookups_total',
    help: 'Statements whose verdict was looked up for reuse, by result: hit (not evaluated again) or miss.',
    labelNames: ['result'],
    registers,
    collect() {
      const { hits, misses } = sources.decisionCache();
      this.reset();
      this.inc({ result: 'hit' }, hits);
      this.inc({ result: 'miss' }, misses);
    },
  });
  /** Statements counted since the start, by decision and engine (key: decision NUL engine). */
  const statementCounts = new Map<string, { decision: string; engine: string; n: number }>();
  return {
    registry,
    statements: new Counter({
      name: 'gatehouse_statements_total',
      help: 'Statements decided and audited, by decision (allow, mask, approve, deny) and engine.',
      labelNames: ['decision', 'engine'],
      registers,
      collect() {
        this.reset();
        for (const { decision, engine, n } of statementCounts.values()) this.inc({ decision, engine }, n);
      },
    }),
    countStatement(decision: string, engine: string): void {
      const key = `${decision}\u0000${engine}`;
      const entry = statementCounts.get(key);
      if (entry === undefined) statementCounts.set(key, { decision, engine, n: 1 });
      else entry.n++;
    },
    evaluationSeconds: new BucketHistogram<'engine'>({
      name: 'gatehouse_policy_evaluation_seconds',
      help: 'Time the policy engine took to decide one statement (cached verdicts are not evaluated again).',
      labelNames: ['engine'],
      buckets: EVALUATION_BUCKETS,
      registers,
    }),
    auditWriteSeconds: new BucketHistogram({
      name: 'gatehouse_audit_write_seconds',
      help: 'Time to hand one audit record (with any deferred ones before it) to storage, successful or not.',
      buckets: AUDIT_BUCKETS,
      registers,
    }),
    auditWriteFailures: new Counter({
      name: 'gatehouse_audit_write_failures_total',
      help: 'Audit writes that failed; each refuses its statement (SQLSTATE 58030).',
      registers,
    }),
    policyActivations: new Counter({
      name: 'gatehouse_policy_activations_total',
      help: 'Policy commits checked for activation, by outcome: activated, or refused (failed to compile or its tests).',
      labelNames: ['outcome'],
      registers,
    }),
    sessionEvents: new Counter({
      name: 'gatehouse_session_events_total',
      help: 'Client session events: auth_ok, auth_failed, closed, protocol_error.',
      labelNames: ['event'],
      registers,
    }),
    upstreamConnectFailures: new Counter({
      name: 'gatehouse_upstream_connect_failures_total',
      help: 'Client sessions refused because the upstream database could not be reached or refused Gatehouse.',
      registers,
    }),
    approvalNotifications: new Counter({
      name: 'gatehouse_approval_notifications_total',
      help: 'Approval notifications, by target (webhook, slack) and outcome: sent, failed (after every retry), dropped (too many waiting).',
      labelNames: ['target', 'outcome'],
      registers,
    }),
  };
}
