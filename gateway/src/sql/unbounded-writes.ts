// Finds writes that reach every row of a table: an UPDATE or DELETE without a WHERE clause, or a
// TRUNCATE, anywhere in a statement's parse tree (statement.unbounded_writes in the policy input).
import { asNode, isObject, type AstNode } from './ast.ts';

/**
 * Whether `stmt` holds, at any depth, an UPDATE or DELETE with no WHERE clause or a TRUNCATE: at
 * the top level, in a WITH (data-modifying CTE), under EXPLAIN, in COPY (query) TO, in PREPARE's
 * body, in a rule's actions or a BEGIN ATOMIC routine body. The statement's text is what is judged,
 * so a write that would not run now (plain EXPLAIN, PREPARE, CREATE RULE) counts too.
 *
 * `WHERE CURRENT OF cursor` is a WHERE clause: it changes one row. MERGE is bounded by its join
 * condition (ON is mandatory, as a WHERE clause is not); INSERT ... ON CONFLICT DO UPDATE by the
 * conflicting rows. Like a WHERE clause, neither is checked for being always true (`WHERE true`).
 */
export function hasUnboundedWrite(stmt: AstNode): boolean {
  return visit({ [stmt.type]: stmt.body });
}

function visit(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(visit);
  if (!isObject(value)) return false;
  const node = asNode(value);
  if (node !== null) {
    switch (node.type) {
      case 'TruncateStmt':
        return true;
      case 'UpdateStmt':
      case 'DeleteStmt':
        if (node.body['whereClause'] === undefined) return true;
        break;
    }
  }
  for (const key in value) if (visit(value[key])) return true;
  return false;
}
