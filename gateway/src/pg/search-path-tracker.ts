// What one session knows about its search_path: when it may have changed (so the server must be
// asked again), whether the path names are resolved with is the server's answer, and which
// statements cannot be decided on it. The session does the asking (pg/session.ts); the rules for
// what may change the path and for reading the answer are in pg/search-path.ts.

import type { DecidedStatement } from '../enforce/decided-statement.ts';
import { GatehouseError } from '../errors.ts';
import type { StatementFacts } from '../sql/facts.ts';
import type { TransactionStatus } from '../wire/backend.ts';
import { mayChangeSearchPath, parseProbe, resolutionPath } from './search-path.ts';

const HINT =
  'Schema-qualify the table names, or send the statement on its own after the change of search_path has completed (after its Sync, or after ROLLBACK of a failed transaction).';

export class SearchPathTracker {
  /** The server must be asked (again): at session start, and after a statement that may have changed the path. */
  private stale = true;
  /** The path names are resolved with is the server's answer (false until the first probe answers, and after a failed one). */
  private known = false;
  /** The last answer came inside a transaction block, whose end may undo what it saw. */
  private setInTransaction = false;
  /** `gatehouse.reason` as the last probe read it (the requester's reason for approvals). */
  private reasonSetting: string | null = null;

  /**
   * Notes statements forwarded to the server: the path is stale if one of them may change it. A
   * SET or RESET of gatehouse.reason is asked about too, without touching how names are resolved.
   */
  noteForwarded(statements: readonly DecidedStatement[]): void {
    for (const s of statements) if (s.parsed !== null && (this.mayChange(s.parsed.facts) || s.parsed.facts.setting === 'gatehouse.reason')) this.stale = true;
  }

  /** The session's gatehouse.reason as the server last said (null: not set, or not asked yet). */
  reason(): string | null {
    return this.reasonSetting;
  }

  /** The path must be asked again (a probe sent in a stretch the server skipped never ran). */
  markStale(): void {
    this.stale = true;
  }

  /** Whether a probe is due; the caller sends it. */
  takeProbe(): boolean {
    const due = this.stale;
    this.stale = false;
    return due;
  }

  /**
   * The probe's answer (null when it failed, e.g. in an aborted transaction). Returns the path to
   * resolve names with, or null when there is none: the probe is then due again.
   */
  probed(value: string | null, txStatus: TransactionStatus): string[] | null {
    const answer = value === null ? null : parseProbe(value);
    if (answer !== null) this.reasonSetting = answer.reason;
    const path = answer === null ? null : resolutionPath(answer);
    if (path === null) {
      this.stale = true;
      this.known = false;
      return null;
    }
    this.known = true;
    this.setInTransaction = txStatus !== 'I';
    // An empty path leaves only the implicit pg_catalog for unqualified names.
    return path.length > 0 ? path : ['pg_catalog'];
  }

  /**
   * Why statements about to be forwarded cannot be decided on the path Gatehouse has: they name
   * tables without a schema, and either the path is not known now (the probe could not run: an
   * aborted transaction, or an extended-protocol batch that changed it and has not reached its
   * Sync), or an earlier statement of the same query string may change it. Null when they can.
   */
  unresolved(statements: readonly DecidedStatement[]): GatehouseError | null {
    if ((!this.known || this.stale) && statements.some(unqualified)) {
      return new GatehouseError(
        'FEATURE_NOT_SUPPORTED',
        'Gatehouse does not know the search_path in force at this point (it may just have changed, and the database could not be asked yet), so a statement naming tables without a schema was not run',
        { hint: HINT },
      );
    }
    const changer = statements.findIndex((s) => s.parsed !== null && this.mayChange(s.parsed.facts));
    if (changer >= 0 && statements.slice(changer + 1).some(unqualified)) {
      return new GatehouseError(
        'FEATURE_NOT_SUPPORTED',
        'A statement in this query string names tables without a schema after a statement that may change search_path; Gatehouse decides the whole string before it runs, so it cannot know which tables those names will mean',
        { hint: HINT },
      );
    }
    return null;
  }

  private mayChange(facts: StatementFacts): boolean {
    // A transaction's end can undo a SET made inside it (ROLLBACK, or SET LOCAL at COMMIT or
    // PREPARE TRANSACTION).
    return mayChangeSearchPath(facts) || ((facts.kind === 'transaction' || facts.kind === 'two_phase') && this.setInTransaction);
  }
}

/** A statement naming a table without a schema (its TableRefs depend on the search path). */
function unqualified(s: DecidedStatement): boolean {
  const f = s.parsed?.facts;
  return f !== undefined && [...f.tablesRead, ...f.tablesWritten].some((t) => !t.schemaExplicit);
}
