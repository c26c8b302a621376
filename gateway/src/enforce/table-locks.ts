// Statements that would queue in PostgreSQL behind a schema change another backend has open on a
// relation they name (a migration's ALTER TABLE, CREATE INDEX or CREATE TRIGGER in an open
// transaction; pg/ddl-locks.ts) are refused as retryable, not decided: once that transaction commits,
// a statement decided now would run the new definition (a column's new type and its operator class,
// a new index's operator class, a new trigger), which no decision saw (red-team round 14, R14-3).
// The session's own upstream backend is not another: a migration's next statement goes on.

import type { StatementFacts } from '../sql/facts.ts';
import type { DdlLockMode, RelationCatalog, RelationInfo } from './relation-catalog.ts';

/** The policy id of a refusal because a relation the statement names is being changed (SQLSTATE 55P03). */
export const RELATION_LOCKED_POLICY_ID = 'gatehouse.relation_locked';

/** Whether a lock in `mode` blocks a statement that reads (ACCESS SHARE) or writes (ROW EXCLUSIVE). */
function blocks(mode: DdlLockMode, writes: boolean): boolean {
  switch (mode) {
    case 'access_exclusive':
      return true;
    case 'exclusive':
    case 'share_row_exclusive':
    case 'share':
      return writes;
    default: {
      const never: never = mode;
      throw new Error(`unknown lock mode ${String(never)}`);
    }
  }
}

function lockedByAnother(r: RelationInfo | null, writes: boolean, ownPid: number | null): boolean {
  for (const l of r?.lockedBy ?? []) if (l.pid !== ownPid && blocks(l.mode, writes)) return true;
  return false;
}

/** Whether `qualified` or one of its partitions or children is locked by another in a mode the statement waits for. */
function reachesLock(relations: RelationCatalog, qualified: string, writes: boolean, ownPid: number | null): boolean {
  return lockedByAnother(relations.get(qualified), writes, ownPid) || relations.descendants(qualified).some((d) => lockedByAnother(d, writes, ownPid));
}

/**
 * The relations the statement reads or writes that another backend than `ownPid` (the session's
 * upstream backend; null: none) holds, or waits to hold, in a mode that makes the statement wait:
 * the relation itself or one of its partitions or children (a read or write of a parent reaches them),
 * and for a write through a view, the relations under it (an updatable view's write reaches its base
 * table: behind a CREATE TRIGGER or CREATE INDEX there it would fire the new trigger or maintain the new
 * index at the commit; red-team round 15, R15-2). Reads through a view are not followed here: a view
 * over a relation locked ACCESS EXCLUSIVE is `definitionLocked` (enforce/view-locks.ts), and the other
 * modes do not block reads.
 */
export function lockedRelationsNamed(facts: StatementFacts, relations: RelationCatalog, ownPid: number | null): string[] {
  if (!relations.anyLocked) return [];
  let out: string[] | null = null;
  for (const [tables, writes] of [[facts.tablesRead, false], [facts.tablesWritten, true]] as const) {
    for (const t of tables) {
      const info = relations.get(t.qualified);
      // Everything a written view reads counts as written: fail closed rather than tell its base from the rest.
      const under = writes && info?.kind === 'view' ? info.reads : [];
      if (reachesLock(relations, t.qualified, writes, ownPid) || under.some((u) => reachesLock(relations, u, writes, ownPid))) {
        (out ??= []).push(t.qualified);
      }
    }
  }
  return out === null ? [] : [...new Set(out)].sort();
}

export function relationLockedReason(relations: readonly string[]): string {
  return `a schema change on ${relations.join(', ')} is in progress in another transaction, which holds it locked; a statement decided now would run the changed definition once that transaction commits, so it was not run`;
}
