// Finds row-locking clauses (SELECT ... FOR UPDATE / FOR NO KEY UPDATE / FOR SHARE / FOR KEY SHARE)
// anywhere in a statement's parse tree (statement.locks_rows in the policy input).
import { isObject, type AstNode } from './ast.ts';

/**
 * Whether `stmt` holds, at any depth, a SELECT with a locking clause: at the top level, in a
 * subquery, a WITH query, a set operation's arm, under EXPLAIN, in COPY (query) TO, in PREPARE's or
 * DECLARE CURSOR's query, in a rule's actions or a BEGIN ATOMIC routine body. As for
 * unbounded_writes, the statement's text is what is judged, so a clause that would not lock now
 * (plain EXPLAIN, PREPARE, CREATE RULE) counts too. A row lock blocks every writer of the row until
 * the transaction ends, which is why PostgreSQL asks for UPDATE privilege for FOR UPDATE.
 */
export function locksRows(stmt: AstNode): boolean {
  return visit(stmt.body);
}

function visit(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(visit);
  if (!isObject(value)) return false;
  const clauses = value['lockingClause'];
  if (Array.isArray(clauses) && clauses.length > 0) return true;
  for (const key in value) if (visit(value[key])) return true;
  return false;
}
