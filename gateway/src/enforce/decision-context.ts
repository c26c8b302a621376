// What the decision point is given for a session: who, where, the engines, catalogs, audit sink and options.

import type { Sealer } from '../audit/seal.ts';
import type { SessionRecorder } from '../audit/session-recording.ts';
import type { AuditSink } from '../audit/types.ts';
import type { Identity, PolicyEngine, SessionInfo } from '../policy/types.ts';
import type { PolicyEvaluator } from '../policy/evaluate.ts';
import type { DecisionCache } from './decision-cache.ts';
import type { ApprovalGate } from './approval-gate.ts';
import type { Disclosures } from './hidden-subjects.ts';
import type { RoutineCatalog } from './routine-catalog.ts';
import type { FreshRelations } from './fresh-catalog.ts';

/** Supplies the engine active right now (it can change between statements when policies are reloaded). */
export interface EngineSource {
  current(): PolicyEngine;
}

export interface DecisionContext {
  identity: Identity;
  session: SessionInfo;
  searchPath: string[];
  engines: EngineSource;
  audit: AuditSink;
  evalTimeoutMs: number;
  /** Where evaluations run (policy/eval-pool.ts: worker threads with a hard deadline); default in-process. */
  evaluator?: PolicyEvaluator;
  /** Holds statements decided `approve` until answered (approvals/); without it they are refused. */
  approvals?: ApprovalGate;
  /** Verdicts already reached, shared by all sessions, reused for a deterministic engine (enforce/decision-cache.ts). */
  cache: DecisionCache;
  /** The database's functions, operators and types, to refuse user routines under a mask (null until loaded: fail closed). */
  routines: { current(): RoutineCatalog | null };
  /**
   * The database's relations and columns, to rewrite masked tables (null until loaded: fail closed);
   * checked against the server before a write under a mask (enforce/fresh-catalog.ts).
   */
  relations: FreshRelations & { refreshSoon(): void };
  /**
   * The pid of the upstream backend the session holds (its own connection, or the pooled one it
   * checked out), or null: locks it holds itself never refuse its statements (enforce/table-locks.ts).
   */
  upstreamPid?: number | null;
  /**
   * After a schema change through Gatehouse: the wait for the snapshots to be read again (pg/catalog.ts
   * afterChange), or null when none is pending (the normal case). Statements that name a user
   * relation or a routine not known to be built in wait for it; others are decided at once.
   */
  catalogChange?: () => Promise<CatalogChangeWait> | null;
  /** With audit.breakglass_key: seals each statement as sent, with its parameters, into its record. */
  seal?: Sealer;
  /** With audit.recordings_dir: the session's recording, told each statement decided (literals as $n). */
  recorder?: Pick<SessionRecorder, 'statement'>;
  /** With audit.phi_tables: the PHI tables, their subject columns and the subject key (enforce/subject-columns.ts). */
  disclosures?: Disclosures;
}

/** How a wait for the catalog after a schema change ended (pg/catalog-snapshot.ts ChangeWait). */
export type CatalogChangeWait = 'fresh' | 'failed' | 'timeout';

/** The policy id of a refusal because the catalog could not be read again after a schema change. */
export const CATALOG_STALE_POLICY_ID = 'gatehouse.catalog_after_change';
