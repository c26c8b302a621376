// Statements naming a view whose definition another transaction holds locked (a migration's CREATE
// OR REPLACE VIEW or ALTER TABLE in progress; pg/relation-snapshot.ts) are refused as retryable,
// not decided: what the view calls is unknown, and once that transaction commits PostgreSQL runs the
// new definition, which may read other tables, even for a statement decided before and queued
// behind the lock (red-team round 12, R12-9). Statements not naming such a view are decided as usual.

import type { StatementFacts } from '../sql/facts.ts';
import type { RelationCatalog } from './relation-catalog.ts';

/** The policy id of a refusal because a view the statement names is being changed (SQLSTATE 55000). */
export const VIEW_LOCKED_POLICY_ID = 'gatehouse.view_locked';

/** The relations the statement names whose definition, or that of a view they read, is locked. */
export function lockedViewsNamed(facts: StatementFacts, relations: RelationCatalog): string[] {
  // Runs for every statement: no list or set is made unless a locked view is named.
  let out: Set<string> | null = null;
  for (const t of facts.tablesRead) if (relations.get(t.qualified)?.definitionLocked === true) (out ??= new Set()).add(t.qualified);
  for (const t of facts.tablesWritten) if (relations.get(t.qualified)?.definitionLocked === true) (out ??= new Set()).add(t.qualified);
  return out === null ? [] : [...out].sort();
}

export function viewLockedReason(views: readonly string[]): string {
  return `another transaction holds ${views.join(', ')} (or a relation it reads) locked while changing it, so Gatehouse cannot tell what it reads and calls until that transaction ends`;
}
