// The cursor (portal) a SQL-level DECLARE, FETCH, MOVE or CLOSE names. SQL cursors and
// protocol-level portals share one namespace in PostgreSQL, so the session needs these names:
// to refuse the ones reserved for Gatehouse's own portals, and to know which portal names a
// client may Execute as cursors it declared (pg/portal-table.ts).

import { parseSync } from 'libpg-query';
import { RESERVED_STATEMENT_PREFIX } from '../enforce/reserved-names.ts';
import type { DecidedStatement } from '../enforce/decided-statement.ts';
import { GatehouseError } from '../errors.ts';
import { asNode, str } from '../sql/ast.ts';
import type { ParsedStatement } from '../sql/facts.ts';

/** What one cursor statement does with a name. */
export interface CursorUse {
  /** The cursor's name as PostgreSQL has it (case folded unless quoted); null for CLOSE ALL. */
  name: string | null;
  /** DECLARE creates it; FETCH, MOVE and CLOSE use it. */
  declares: boolean;
}

const CURSOR_STATEMENTS = new Set(['DeclareCursorStmt', 'FetchStmt', 'ClosePortalStmt']);

/**
 * The cursor a statement of kind `cursor` names, or null for any other statement. Its text was
 * parsed a moment ago by the same parser, so a failure here is a bug: it throws (fail closed).
 */
export function cursorUse(parsed: ParsedStatement): CursorUse | null {
  if (parsed.facts.kind !== 'cursor') return null;
  const stmts = (parseSync(parsed.text) as { stmts?: { stmt?: unknown }[] }).stmts ?? [];
  const node = stmts.length === 1 ? asNode(stmts[0]!.stmt) : null;
  if (node === null || !CURSOR_STATEMENTS.has(node.type)) {
    throw new Error(`a cursor statement without a cursor: ${node?.type ?? 'no statement'}`);
  }
  return { name: str(node.body, 'portalname'), declares: node.type === 'DeclareCursorStmt' };
}

/**
 * Whether a portal or cursor name is in the prefix Gatehouse reserves for its own statements and
 * portals (any case: refusing more than needed costs nothing).
 */
export function isReservedName(name: string): boolean {
  return name.toLowerCase().startsWith(RESERVED_STATEMENT_PREFIX);
}

/** A portal or cursor name the client may not use: Gatehouse names its own portals so. */
export function reservedName(name: string): GatehouseError {
  return new GatehouseError('RESERVED_NAME', `portal and cursor names starting with "${RESERVED_STATEMENT_PREFIX}" are reserved for Gatehouse ("${name}")`, {
    hint: 'Choose another portal or cursor name.',
  });
}

/**
 * The cursors the SQL DECLAREs of these statements open (so that an Execute of that name can be
 * forwarded), or the refusal of a DECLARE, FETCH, MOVE or CLOSE naming a reserved name: those are
 * Gatehouse's own portals, whose rows only its masking may read.
 */
export function cursorsDeclared(statements: readonly DecidedStatement[]): string[] | GatehouseError {
  const declared: string[] = [];
  for (const s of statements) {
    if (!s.parsed) continue;
    let use: CursorUse | null;
    try {
      use = cursorUse(s.parsed);
    } catch (e) {
      return new GatehouseError('INTERNAL', 'Gatehouse could not read the cursor name of this statement, so it was not run', { cause: e });
    }
    if (use === null || use.name === null) continue;
    if (isReservedName(use.name)) return reservedName(use.name);
    if (use.declares) declared.push(use.name);
  }
  return declared;
}
