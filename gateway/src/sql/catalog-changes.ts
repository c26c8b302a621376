// Whether a statement, once it has run, may have changed what the catalog snapshots hold (relations,
// columns, views, functions, constraints, triggers, types, privileges on Gatehouse's mask functions):
// DDL, GRANT/REVOKE, DO and CALL (a block or procedure may run DDL), COMMIT PREPARED, and EXPLAIN
// ANALYZE of DDL (CREATE TABLE AS). A few DDL commands change no catalog row the snapshots read.

import type { StatementFacts } from './facts.ts';

/** DDL-kind commands that leave relations, routines, constraints and triggers as they were. */
const CATALOG_NEUTRAL_COMMANDS = new Set(['TruncateStmt', 'CommentStmt', 'RefreshMatViewStmt', 'CheckPointStmt', 'LoadStmt', 'CreatedbStmt', 'DropdbStmt']);

export function changesCatalog(facts: Pick<StatementFacts, 'kind' | 'command' | 'innerKind'>): boolean {
  switch (facts.kind) {
    case 'ddl':
      return !CATALOG_NEUTRAL_COMMANDS.has(facts.command);
    case 'grant':
    case 'do':
    case 'call':
    case 'two_phase':
      return true;
    case 'explain':
      return facts.innerKind === 'ddl';
    default:
      return false;
  }
}
