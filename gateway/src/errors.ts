// The one registry of errors Gatehouse shows to clients: each has a stable code and a SQLSTATE.

/** Stable Gatehouse error codes. Tests assert on these (and SQLSTATEs), never on message text. */
export const ERRORS = {
  SYNTAX_ERROR: { sqlstate: '42601', severity: 'ERROR' },
  POLICY_DENIED: { sqlstate: '42501', severity: 'ERROR' },
  APPROVAL_REQUIRED: { sqlstate: '42501', severity: 'ERROR' },
  /** A held statement's approval request was denied by an approver. */
  APPROVAL_DENIED: { sqlstate: '42501', severity: 'ERROR' },
  /** A held statement waited its whole TTL without enough approvals: like statement_timeout, it was cancelled. */
  APPROVAL_EXPIRED: { sqlstate: '57014', severity: 'ERROR' },
  /** The policy commit changed while the statement waited: the request no longer stands. */
  APPROVAL_VOID: { sqlstate: '42501', severity: 'ERROR' },
  /** The session or identity already has as many pending approval requests as approvals.max_pending_per_* allows. */
  APPROVAL_LIMIT: { sqlstate: '53400', severity: 'ERROR' },
  /**
   * A statement that needs approval had its Parse or Bind sent to the server ahead of its Execute (another
   * statement's Execute or a Flush between them): waiting would hold their locks, so it is not held (R18a-4).
   */
  APPROVAL_INTERLEAVED: { sqlstate: '42501', severity: 'ERROR' },
  POLICY_ENGINE_FAILED: { sqlstate: '42501', severity: 'ERROR' },
  AUDIT_WRITE_FAILED: { sqlstate: '58030', severity: 'ERROR' },
  /** The audit log's disk is full (ENOSPC, EDQUOT): statements are refused until it has room again. */
  AUDIT_DISK_FULL: { sqlstate: '53100', severity: 'ERROR' },
  /** Records already written could not be flushed to disk: the session's held statements are not sent, and it ends. */
  AUDIT_FLUSH_FAILED: { sqlstate: '58030', severity: 'FATAL' },
  AUTH_FAILED: { sqlstate: '28P01', severity: 'FATAL' },
  AUTH_SPEC_INVALID: { sqlstate: '28000', severity: 'FATAL' },
  TLS_REQUIRED: { sqlstate: '28000', severity: 'FATAL' },
  PROTOCOL_VIOLATION: { sqlstate: '08P01', severity: 'FATAL' },
  FEATURE_NOT_SUPPORTED: { sqlstate: '0A000', severity: 'ERROR' },
  /**
   * A write reads masked columns of the table it writes (WHERE, SET values, RETURNING, ON CONFLICT):
   * enforce/write-target.ts; or its constraint checks would tell whether a masked value exists: enforce/existence-oracles.ts.
   */
  MASKED_COLUMN_READ: { sqlstate: '42501', severity: 'ERROR' },
  /** A statement would change standard_conforming_strings or client_encoding unsafely (sql/session-invariants.ts). */
  UNSAFE_PARSER_SETTING: { sqlstate: '22023', severity: 'ERROR' },
  /** A session with such a setting is refused or ended. */
  UNSAFE_PARSER_SESSION: { sqlstate: '22023', severity: 'FATAL' },
  UPSTREAM_UNAVAILABLE: { sqlstate: '08006', severity: 'FATAL' },
  /** The database refused a startup parameter the client passed (applied at checkout from upstream.pool, pg/upstream/checkout.ts). */
  STARTUP_PARAMETER_INVALID: { sqlstate: '22023', severity: 'FATAL' },
  /** upstream.pool is full and no connection came free within acquire_timeout_ms (pg/upstream-pool.ts). */
  UPSTREAM_POOL_EXHAUSTED: { sqlstate: '53300', severity: 'FATAL' },
  IN_FAILED_TRANSACTION: { sqlstate: '25P02', severity: 'ERROR' },
  DUPLICATE_PREPARED_STATEMENT: { sqlstate: '42P05', severity: 'ERROR' },
  UNKNOWN_PREPARED_STATEMENT: { sqlstate: '26000', severity: 'ERROR' },
  /** An Execute or Describe of a portal neither bound through Gatehouse nor DECLAREd by the session (pg/portal-table.ts). */
  UNKNOWN_PORTAL: { sqlstate: '34000', severity: 'ERROR' },
  /** A portal or cursor name in the prefix Gatehouse reserves for its own portals. */
  RESERVED_NAME: { sqlstate: '42939', severity: 'ERROR' },
  /** A Query with more statements, or a statement of more bytes, than `limits` allows (pg/statement-limits.ts). */
  STATEMENT_LIMIT: { sqlstate: '54000', severity: 'ERROR' },
  CONFIG_INVALID: { sqlstate: 'F0000', severity: 'FATAL' },
  /** The policy evaluation for a statement ran over its CPU budget and was stopped (policy/eval-pool.ts): a deny. */
  POLICY_EVAL_BUDGET: { sqlstate: '57014', severity: 'ERROR' },
  /**
   * A statement that needs the catalog snapshots arrived after a schema change made through Gatehouse
   * and the snapshots could not be read again in time (pg/catalog.ts afterChange): refused, not decided
   * with a catalog that misses the change.
   */
  CATALOG_STALE: { sqlstate: '55000', severity: 'ERROR' },
  /**
   * A statement names a relation that another transaction holds locked for a schema change: it would
   * queue behind it and run the changed definition (enforce/table-locks.ts). Retry after that commits.
   */
  RELATION_LOCKED: { sqlstate: '55P03', severity: 'ERROR' },
  /**
   * A policy activation came after the transaction block began: its snapshot and what it read were
   * decided under the older revision, so its statements are refused until it ends (pg/revision-fence.ts).
   */
  POLICY_CHANGED_IN_TRANSACTION: { sqlstate: '40001', severity: 'ERROR' },
  /** A FETCH or MOVE of a cursor declared under an older policy revision (pg/revision-fence.ts). */
  POLICY_CHANGED_FOR_CURSOR: { sqlstate: '40001', severity: 'ERROR' },
  /** A statement cancelled (CancelRequest) while Gatehouse was still deciding it: it never ran. */
  QUERY_CANCELED: { sqlstate: '57014', severity: 'ERROR' },
  INTERNAL: { sqlstate: 'XX000', severity: 'ERROR' },
} as const;

export type ErrorCode = keyof typeof ERRORS;

export interface GatehouseErrorFields {
  /** Shown to the client as DETAIL. Must never contain a masked value. */
  detail?: string;
  /** Shown to the client as HINT: what to do about it. */
  hint?: string;
  /** Decision id, when the error comes from a policy decision. */
  decisionId?: string;
  cause?: unknown;
}

/** An error with a stable code and the SQLSTATE a PostgreSQL client will see. */
export class GatehouseError extends Error {
  readonly code: ErrorCode;
  readonly sqlstate: string;
  readonly severity: 'ERROR' | 'FATAL';
  readonly detail: string | undefined;
  readonly hint: string | undefined;
  readonly decisionId: string | undefined;

  constructor(code: ErrorCode, message: string, fields: GatehouseErrorFields = {}) {
    super(message, fields.cause === undefined ? undefined : { cause: fields.cause });
    this.name = 'GatehouseError';
    this.code = code;
    this.sqlstate = ERRORS[code].sqlstate;
    this.severity = ERRORS[code].severity;
    this.detail = fields.detail;
    this.hint = fields.hint;
    this.decisionId = fields.decisionId;
  }
}

export function isGatehouseError(e: unknown): e is GatehouseError {
  return e instanceof GatehouseError;
}
