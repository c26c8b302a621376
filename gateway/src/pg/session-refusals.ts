// A session's refusals: in order with everything already in flight, and with PostgreSQL's semantics
// (what goes upstream in place of a refused message is in pg/refusals-in-order.ts).

import { GatehouseError } from '../errors.ts';
import { readyForQuery, type TransactionStatus } from '../wire/backend.ts';
import type { BatchState } from './batch-state.ts';
import { errorMessageFor } from './error-message.ts';
import type { PendingQueue, PreparedStatement } from './pending.ts';
import { answeredByGatehouse, refusedExtendedUpstream, refusedFunctionCallUpstream, refusedQueryUpstream, type InPlaceOfRefused } from './refusals-in-order.ts';

/** What refusing needs of the session. */
export interface RefusalHost {
  readonly pending: Pick<PendingQueue, 'length' | 'push'>;
  readonly statements: Map<string, PreparedStatement>;
  readonly txStatus: TransactionStatus;
  readonly batch: BatchState;
  emit(message: Buffer): void;
  sendUpstream(message: Buffer): void;
}

/**
 * A refused simple Query. When nothing is in flight, no transaction block is open and no
 * extended batch is waiting for its Sync, Gatehouse answers itself. Otherwise it sends upstream,
 * in place of the client's Query, a simple Query that cannot parse: it fails exactly where and
 * how the refused one would have (skipped if the server is skipping until Sync; else aborting
 * the transaction block until ROLLBACK, or the implicit transaction of the unsynced batch), and
 * Gatehouse shows the client its own error in place of upstream's, then relays ReadyForQuery.
 */
export function refuseSimple(s: RefusalHost, error: GatehouseError): void {
  const message = errorMessageFor(error);
  // PostgreSQL drops the unnamed prepared statement at every simple Query, before it parses it;
  // upstream does too when the refusal goes up as REFUSAL_QUERY (a Bind of it then gets 26000),
  // unless the server skips it (an error earlier in the batch): then it is put back (droppedUnnamed).
  const droppedUnnamed = s.statements.get('') ?? null;
  s.statements.delete('');
  if (answeredByGatehouse(s.pending.length, s.txStatus, s.batch.forwarded)) {
    s.emit(message);
    s.emit(readyForQuery(s.txStatus));
    return;
  }
  sendInPlace(s, refusedQueryUpstream(message, droppedUnnamed));
  s.batch.forwarded = false;
}

/**
 * A refused fast-path FunctionCall, answered as PostgreSQL answers one that fails: ErrorResponse, then
 * ReadyForQuery at once (no Sync awaited). In order as a refused simple Query is (refuseSimple), with a
 * FunctionCall that fails in its place upstream; the unnamed statement stays.
 */
export function refuseFunctionCall(s: RefusalHost, error: GatehouseError): void {
  const message = errorMessageFor(error);
  if (answeredByGatehouse(s.pending.length, s.txStatus, s.batch.forwarded)) {
    s.emit(message);
    s.emit(readyForQuery(s.txStatus));
    return;
  }
  sendInPlace(s, refusedFunctionCallUpstream(message));
  s.batch.forwarded = false; // it ends the implicit transaction of an unsynced batch, as a Query does
}

/**
 * A refused extended-protocol message: error now (in order), then discard until Sync.
 * `unnamed`: for a refused Parse of the unnamed statement, which the failing message sent in its
 * place (when one is needed) also drops upstream, with the statement Gatehouse dropped (`dropped`,
 * put back if the server skips the failing message).
 */
export function refuseExtended(s: RefusalHost, error: GatehouseError, unnamed: { dropped: PreparedStatement | null } | null = null): void {
  const message = errorMessageFor(error);
  s.batch.skipUntilSync = true;
  if (answeredByGatehouse(s.pending.length, s.txStatus, s.batch.forwarded)) {
    s.emit(message);
    return;
  }
  sendInPlace(s, refusedExtendedUpstream(message, unnamed));
}

/** A message that fails upstream in place of a refused one (pg/refusals-in-order.ts). */
function sendInPlace(s: RefusalHost, refused: InPlaceOfRefused): void {
  s.sendUpstream(refused.message);
  s.pending.push(refused.expect);
}

