// When a client message may be taken: one that names a prepared statement whose name a message still
// in flight changes waits for the server's answers (pending.ts statementNameUnsettled), and a Query,
// Parse, Bind or Execute that names relations, sent while an earlier Query, Execute or Sync of the client
// is still unanswered upstream (a pipeline; a Sync's commit runs deferred checks that can wait for rows:
// red-team round 17b, R17b-1), or while a Parse or Bind of another prepared statement naming relations is
// (the server waits there for a relation lock: a migration's taken within the lock poll's window), waits
// until the statements ahead of it are answered and is decided then. Decided on arrival, it could run long
// after its decision (behind one waiting for a row or relation lock), on a table a migration altered and
// committed in between, which no lock taken at its own start would see (red-team round 16, R16-3;
// docs/data-path.md, "Statements pipelined behind others").

import type { Frame } from '../wire/framer.ts';
import type { FrontendMessage } from '../wire/frontend.ts';
import { analyzeQuery } from '../sql/parser.ts';
import { countStatements } from '../sql/statement-count.ts';
import type { PendingQueue, PreparedStatement } from './pending.ts';
import type { PortalTable } from './portal-table.ts';

/** A client message set aside until what it waits for is in (see the header). */
export type Parked = { on: 'name'; frame: Frame; name: string } | { on: 'statements ahead'; frame: Frame; own: PreparedStatement | null };

/** What parkingFor reads of the session. */
export interface OrderView {
  pending: PendingQueue;
  statements: ReadonlyMap<string, PreparedStatement>;
  portals: PortalTable;
  searchPath: readonly string[];
}

/** The prepared statement a Parse, Bind, Describe or Close message names, or null. */
function statementNamed(msg: FrontendMessage): string | null {
  switch (msg.type) {
    case 'parse':
      return msg.name;
    case 'bind':
      return msg.statement;
    case 'describe':
    case 'close':
      return msg.target === 'S' ? msg.name : null;
    default:
      return null;
  }
}

/**
 * Whether `sql` may name a relation (anything the parser cannot read counts: it is decided, and refused, later).
 * A text of several statements counts without being analysed: analysed here, all of its statements' facts
 * were extracted in one turn of the event loop, the work the decision does in slices, and a text over the
 * statement limit was parsed whole before the limit refused it (red-team round 18c, R18c-1). Parking it costs
 * at most the wait for the statements ahead.
 */
function namesRelations(sql: string, searchPath: readonly string[]): boolean {
  if (countStatements(sql, 1) > 1) return true;
  const outcome = analyzeQuery(sql, { searchPath });
  if (!outcome.ok) return true;
  return outcome.statements.some((p) => p.facts.tablesRead.length > 0 || p.facts.tablesWritten.length > 0);
}

/** The SQL an Execute of `portalName` runs, or null when Gatehouse does not decide it there (a cursor, a refusal). */
function executedSql(view: Pick<OrderView, 'portals'>, portalName: string): string | null {
  const portal = view.portals.target(portalName);
  return portal === null || !('statement' in portal) ? null : portal.statement.sql;
}

/** Whether a message must wait before Gatehouse takes it, and for what (null: take it now). */
export function parkingFor(frame: Frame, msg: FrontendMessage, view: OrderView): Parked | null {
  const name = statementNamed(msg);
  if (name !== null && view.pending.statementNameUnsettled(name)) return { on: 'name', frame, name };
  const own = ownStatement(msg, view);
  if (!workAhead(view.pending, own)) return null;
  const sql = sqlTouched(msg, view);
  return sql !== null && namesRelations(sql, view.searchPath) ? { on: 'statements ahead', frame, own } : null;
}

/** Whether work that can wait on the server is ahead of a message of prepared statement `own` (see the header). */
function workAhead(pending: PendingQueue, own: PreparedStatement | null): boolean {
  return pending.statementsInFlight() || pending.otherStatementInFlight(own);
}

/** The prepared statement a Bind or Execute carries on (its own Parse and Bind ahead do not hold it), or null. */
function ownStatement(msg: FrontendMessage, view: Pick<OrderView, 'statements' | 'portals'>): PreparedStatement | null {
  switch (msg.type) {
    case 'bind':
      return view.statements.get(msg.statement) ?? null;
    case 'execute': {
      const portal = view.portals.target(msg.portal);
      return portal !== null && 'statement' in portal ? portal.statement : null;
    }
    default:
      return null;
  }
}

/**
 * The SQL whose relations the server touches at this message: a Query's and an Execute's, and a Parse's
 * and a Bind's too (PostgreSQL locks a statement's relations when it parses it, and again when it plans
 * it at Bind, and waits there behind a migration's lock: parking only the Execute let the Parse queued
 * behind the statements ahead wait for a migration and parse its new definition).
 */
export function sqlTouched(msg: FrontendMessage, view: Pick<OrderView, 'statements' | 'portals'>): string | null {
  switch (msg.type) {
    case 'query':
    case 'parse':
      return msg.sql;
    case 'bind':
      return view.statements.get(msg.statement)?.sql ?? null;
    case 'execute':
      return executedSql(view, msg.portal);
    default:
      return null;
  }
}

/** Whether a parked message must still wait. */
export function stillParked(parked: Parked, pending: PendingQueue): boolean {
  switch (parked.on) {
    case 'name':
      return pending.statementNameUnsettled(parked.name);
    case 'statements ahead':
      return workAhead(pending, parked.own);
    default: {
      const never: never = parked;
      throw new Error(`unknown parking ${JSON.stringify(never)}`);
    }
  }
}
