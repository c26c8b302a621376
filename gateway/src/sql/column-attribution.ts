// Attributes a column reference (`col`, `alias.col`, `schema.table.col`, `t.*`) to the base tables
// it may denote, through the FROM items in scope.
import { asNode, list, stringValue, type AstBody } from './ast.ts';
import type { TableRef } from './facts.ts';
import { functionNames } from './function-names.ts';
import type { Scope } from './scope.ts';
import type { StatementWalker } from './statement-walker.ts';

/**
 * Attributes a column reference to base tables. `alias.col` and `schema.table.col` resolve
 * through FROM items, innermost query level first. An unqualified name cannot be resolved
 * without the catalog when several tables are visible (including outer query levels, for
 * correlated subqueries): it is then listed under EVERY visible table, so that a policy
 * masking or denying a column errs on the side of masking or denying. An unqualified name
 * that is a FROM item's name is a whole-row reference (`SELECT p FROM patients p`) and
 * counts as "*" for that item's tables.
 */
export function attributeColumnRef(w: Pick<StatementWalker, 'rec' | 'writeTargets'>, body: AstBody, scope: Scope): void {
  const names: string[] = [];
  const attribute = (t: TableRef, column: string): void => {
    w.rec.column(t, column);
    if (w.writeTargets.has(t.qualified)) w.rec.table(t, 'read');
  };
  for (const f of list(body, 'fields')) {
    const node = asNode(f);
    names.push(node?.type === 'A_Star' ? '*' : (stringValue(f) ?? ''));
  }
  const column = names[names.length - 1];
  if (column === undefined) return;
  // `t.f`, `s.t.f`: the last name may be a function applied to the whole row of t (functional
  // notation: `t.f` is `f(t)` when t has no column f; for a function in FROM returning a scalar,
  // `t` is that scalar), so it is also recorded as a possible call.
  if (names.length >= 2 && column !== '*') for (const f of functionNames([column])) w.rec.func(f);
  if (names.length === 1) {
    if (column === '*') {
      for (const t of scope.innermostTables()) attribute(t, '*');
      return;
    }
    const whole = scope.findItem(column, null);
    if (whole !== null) for (const t of whole.tables) attribute(t, '*');
    for (const t of scope.visibleTables()) attribute(t, column);
    return;
  }
  const relation = names[names.length - 2] ?? '';
  const schema = names.length >= 3 ? (names[names.length - 3] ?? null) : null;
  const item = scope.findItem(relation, schema);
  if (item !== null) {
    for (const t of item.tables) attribute(t, column);
    return;
  }
  // Not a FROM item: `a.b` may be field b of composite column a. Attribute column a.
  const first = names[0] ?? '';
  for (const t of scope.visibleTables()) attribute(t, first);
}
