// Putting Gatehouse's statement and portal names back as the database has them, when the server
// refused or skipped the Parse, Bind or Close that changed them (pg/upstream-relay.ts calls it when an
// error makes the server skip until Sync).

import type { Pending, PreparedStatement } from './pending.ts';
import type { PortalTable } from './portal-table.ts';

/** The session's names for what the client prepared and bound. */
export interface SessionNames {
  readonly statements: Map<string, PreparedStatement>;
  readonly portals: Pick<PortalTable, 'undoBind' | 'undoClose'>;
}

/**
 * Statement and portal names were updated when the client's Parse, Bind or Close went out; the
 * database refused (`failed`) or skipped (`skipped`) these, so put the names back as the database
 * has them (latest change first). A skipped Close of a portal matters: the server still has the
 * portal (and ROLLBACK TO SAVEPOINT keeps portals created before the savepoint), so Gatehouse must
 * still decide and mask its Executes.
 *
 * The unnamed statement: PostgreSQL drops it at the start of every Parse of the unnamed statement
 * and of every simple Query (exec_parse_message, exec_simple_query), so a failed one has dropped
 * it too, but a skipped one has not: what a skipped Parse replaced, and what Gatehouse dropped for
 * a refusal the server skipped, is the unnamed statement again.
 */
export function undoNameChanges(failed: Pending, skipped: readonly Pending[], names: SessionNames): void {
  const statements = names.statements;
  for (const p of [...skipped].reverse()) {
    switch (p.kind) {
      case 'parse':
        if (statements.get(p.statement.name) !== p.statement) break;
        if (p.replaced !== null) statements.set(p.statement.name, p.replaced);
        else statements.delete(p.statement.name);
        break;
      case 'swap-error':
      case 'refused-query':
        if (p.droppedUnnamed !== null && !statements.has('')) statements.set('', p.droppedUnnamed);
        break;
      default:
        undoNameChange(p, names);
    }
  }
  if (failed.kind === 'parse') {
    if (statements.get(failed.statement.name) === failed.statement) statements.delete(failed.statement.name);
  } else {
    undoNameChange(failed, names);
  }
}

/** Undoes what a refused or skipped Close or Bind changed in Gatehouse's names. */
function undoNameChange(p: Pending, names: SessionNames): void {
  switch (p.kind) {
    case 'close-statement':
      if (p.statement && !names.statements.has(p.statement.name)) names.statements.set(p.statement.name, p.statement);
      break;
    case 'bind':
      if (p.portal) names.portals.undoBind(p.portal, p.previous);
      break;
    case 'close':
      if (p.portal) names.portals.undoClose(p.portal);
      break;
    default:
      break;
  }
}
