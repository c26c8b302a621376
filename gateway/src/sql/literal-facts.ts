// Which of a statement's facts come from the values of its literals: what decides whether statements
// that differ only in literal values may share their facts (sql/shape-cache.ts).
//
// Read from the extractor (facts-extract.ts, setting-changes.ts): the facts that look at a literal's
// value are has_limit (LIMIT NULL and LIMIT ALL are a null constant: no limit), explain_analyze
// (EXPLAIN (ANALYZE off)) and every setting change (SET x = 'v', set_config('name', 'value'), whose
// names and values the setting guard and statement.settings read). The fingerprint ignores the
// values of constants in queries, but not every literal of a utility statement that normalization
// replaces (NOTIFY's payload). So only queries (SELECT, INSERT, UPDATE, DELETE, MERGE) are shared,
// and not when they change settings; their other facts come from structure and names, which
// normalization keeps.

import type { StatementFacts } from './facts.ts';
import { asNode, type AstNode } from './ast.ts';

export type LiteralDependence =
  /** The facts are the same whatever the literal values. */
  | { kind: 'none' }
  /** has_limit is true because LIMIT is a constant that is not NULL/ALL: shared while the value stays non-null. */
  | { kind: 'limit' }
  /** The facts may read literal values: never shared. */
  | { kind: 'unshared'; why: string };

const QUERIES = new Set(['SelectStmt', 'InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt']);

export function literalDependence(stmt: AstNode, facts: StatementFacts): LiteralDependence {
  if (!QUERIES.has(stmt.type)) return { kind: 'unshared', why: 'not a query: its literals may be facts (settings, options, fingerprint)' };
  if (facts.settingChanges.length > 0) return { kind: 'unshared', why: 'setting names and values come from literals' };
  if (stmt.type === 'SelectStmt' && asNode(stmt.body['limitCount'])?.type === 'A_Const') {
    // LIMIT NULL / LIMIT ALL (no limit) and LIMIT 5 normalize alike.
    return facts.hasLimit ? { kind: 'limit' } : { kind: 'unshared', why: 'LIMIT is a null constant' };
  }
  return { kind: 'none' };
}
