// What the walk's handlers for queries, writes and column references (sql/walk-query.ts,
// sql/walk-dml.ts, sql/column-attribution.ts) ask of the walker (sql/walk.ts): to walk on into a
// value or a node's fields, to record a relation named outside FROM, and to record facts.
import type { AstBody } from './ast.ts';
import type { TableRef } from './facts.ts';
import type { FactsRecorder, TargetMode } from './facts-recorder.ts';
import type { Scope } from './scope.ts';
import type { NameUse } from './table-ref.ts';

export interface StatementWalker {
  readonly rec: FactsRecorder;
  /** Set when a WITH query is a data-modifying statement. */
  cteWrites: boolean;
  /**
   * The targets of the writes being walked (by qualified name). A column reference that may denote
   * a target's column (WHERE, SET values, RETURNING, ON CONFLICT, MERGE conditions) makes the target
   * read as well: PostgreSQL needs SELECT on those columns, and their values reach the client
   * (RETURNING) or decide which rows change (WHERE), so a policy's masks on the target must apply.
   * The target of UPDATE, DELETE, MERGE and INSERT ... ON CONFLICT is read in any case: the stored
   * rows they touch are quoted by constraint errors ("Failing row contains (...)", "Key (c)=(...)").
   */
  readonly writeTargets: Set<string>;
  /** Walks any value: a node, a list, a bare struct. */
  walk(value: unknown, scope: Scope, mode: TargetMode): void;
  /** Walks the fields of a node's body, but those in `skip`. */
  walkFields(body: AstBody, scope: Scope, mode: TargetMode, skip?: ReadonlySet<string>): void;
  /**
   * Records a relation named outside FROM (a DDL/DML target or reference) and returns the tables
   * it may denote (several for an unqualified name: see table-ref.ts).
   */
  target(rangeVar: unknown, mode: TargetMode, use?: NameUse): TableRef[];
}
