// The facts Gatehouse extracts from one SQL statement with the real PostgreSQL parser.
// These types are the contract between sql/ and policy/ (see schemas/policy-input.schema.json).
import type { SettingChange } from './setting-changes.ts';

/** What a statement does, at the top level. A closed set: policies switch on it. */
export type StatementKind =
  | 'select'
  | 'insert'
  | 'update'
  | 'delete'
  | 'merge'
  | 'copy'
  | 'ddl' // CREATE/ALTER/DROP/TRUNCATE/COMMENT/...
  | 'grant' // GRANT/REVOKE/ALTER ROLE/CREATE ROLE
  | 'transaction' // BEGIN/COMMIT/ROLLBACK/SAVEPOINT/...
  | 'two_phase' // PREPARE TRANSACTION/COMMIT PREPARED/ROLLBACK PREPARED
  | 'set' // SET/RESET/SET ROLE/SET SESSION AUTHORIZATION
  | 'show'
  | 'explain'
  | 'do'
  | 'call'
  | 'prepare'
  | 'execute'
  | 'deallocate'
  | 'cursor' // DECLARE/FETCH/MOVE/CLOSE
  | 'listen' // LISTEN/UNLISTEN/NOTIFY
  | 'lock'
  | 'vacuum' // VACUUM/ANALYZE/CLUSTER/REINDEX
  | 'discard'
  | 'empty' // an empty query string
  | 'other';

/**
 * A table or view named in a statement. A name written without a schema gives one TableRef for
 * each table PostgreSQL may resolve it to on the session's search path (sql/table-ref.ts).
 */
export interface TableRef {
  /** Schema as written; for an unqualified name, one schema of the search path that may hold it. */
  schema: string;
  name: string;
  /** "schema.name" — the key used in columns, masks and policies. */
  qualified: string;
  /** Whether the schema was written in the statement. */
  schemaExplicit: boolean;
}

export type CopyDirection = 'from' | 'to';
export type CopyEndpoint = 'stdio' | 'file' | 'program';

export interface CopyFacts {
  direction: CopyDirection;
  endpoint: CopyEndpoint;
  /** Set for COPY (query) TO. */
  query: boolean;
}

/** An operator or type name as written: `schema` null when unqualified (a database prefix dropped). */
export interface WrittenName {
  schema: string | null;
  name: string;
}

/** Facts about ONE statement (a multi-statement string yields one StatementFacts each). */
export interface StatementFacts {
  kind: StatementKind;
  /** The parser's node name for the top-level statement, e.g. "SelectStmt", "CreateStmt". */
  command: string;
  tablesRead: TableRef[];
  tablesWritten: TableRef[];
  /** Columns referenced per table, keyed by TableRef.qualified. "*" when a star is used. */
  columns: Record<string, string[]>;
  /**
   * Functions possibly called, lower-case, without a database name: a call that may reach a
   * built-in both bare and as "pg_catalog.f", others as "schema.f"; names used in functional
   * notation (`(x).f`, `t.f`) included (sql/function-names.ts).
   */
  functions: string[];
  /**
   * Operators named anywhere, as written (`===`, `OPERATOR(s.===)`, `= ANY (...)`, BETWEEN's `>=`
   * and `<=`, `ORDER BY ... USING <`): an operator runs its function (sql/routine-names.ts).
   */
  operators: WrittenName[];
  /** Types named anywhere, as written (casts, column definitions, routine signatures): a domain's CHECK or a range's functions may run. */
  types: WrittenName[];
  hasWhere: boolean;
  hasLimit: boolean;
  /**
   * An UPDATE or DELETE without WHERE, or a TRUNCATE, anywhere in the statement: top level, WITH,
   * EXPLAIN, COPY (query), PREPARE, a rule or routine body (sql/unbounded-writes.ts).
   */
  unboundedWrites: boolean;
  /**
   * A SELECT with a row-locking clause (FOR UPDATE, FOR NO KEY UPDATE, FOR SHARE, FOR KEY SHARE)
   * anywhere in the statement: subqueries, WITH, EXPLAIN, PREPARE, DECLARE CURSOR (sql/row-locks.ts).
   */
  locksRows: boolean;
  /** True when the statement writes anywhere: top level, a data-modifying CTE, EXPLAIN ANALYZE or COPY (query) TO of a write. */
  writes: boolean;
  /** A data-modifying CTE is present (WITH d AS (DELETE ...) SELECT ...). */
  cteWrites: boolean;
  /** EXPLAIN with ANALYZE, which executes its inner statement. */
  explainAnalyze: boolean;
  /** For EXPLAIN and SQL-level PREPARE: the kind of the inner statement. */
  innerKind: StatementKind | null;
  /** For SQL-level EXECUTE/DEALLOCATE/PREPARE: the prepared statement name. */
  preparedName: string | null;
  copy: CopyFacts | null;
  /** For SET/RESET: the parameter name (lower-case), e.g. "search_path", "role". */
  setting: string | null;
  /**
   * Every run-time parameter the statement changes, wherever written (SET, ALTER ... SET, a
   * function's SET clause, set_config(), UPDATE pg_settings, DISCARD ALL). Gatehouse itself refuses
   * changes that would make PostgreSQL parse SQL differently (sql/session-invariants.ts); policies
   * see the names as statement.settings (policy/setting-names.ts).
   */
  settingChanges: SettingChange[];
  /** PostgreSQL's query fingerprint (hex), stable across literal values. */
  fingerprint: string;
}

/** One statement split out of a query string, with its text and facts. */
export interface ParsedStatement {
  text: string;
  facts: StatementFacts;
  /**
   * The statement's text with its literals as $n (PostgreSQL's normalization), when known without
   * normalizing it again: statements answered by the shape cache (sql/shape-cache.ts) carry it.
   */
  shape?: string;
}

/** Result of parsing a whole query string. */
export type ParseOutcome =
  | { ok: true; statements: ParsedStatement[] }
  | { ok: false; error: string; position: number | null };
