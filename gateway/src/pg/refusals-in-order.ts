// Refusals that must take effect in order with what is already in flight: what Gatehouse sends
// upstream in place of a refused message, a message that fails exactly where and how the refused
// one would have, and the pending entry that shows the client Gatehouse's error in place of
// upstream's (pg/pending.ts refused-query, swap-error). When nothing is in flight, Gatehouse answers
// itself.

import { randomUUID } from 'node:crypto';
import type { TransactionStatus } from '../wire/backend.ts';
import { encodeBind, encodeFunctionCall, encodeParse, encodeQuery } from '../wire/frontend.ts';
import type { Pending, PreparedStatement } from './pending.ts';

/**
 * Sent upstream in place of a refused simple Query when the refusal must take effect in order
 * (refusedQueryUpstream): a Query that fails in the raw parser in every state, with no effect but
 * the error's, and that names Gatehouse in the server log.
 */
export const REFUSAL_QUERY = 'GATEHOUSE REFUSED THIS STATEMENT';

/** What goes upstream in place of a refused message, and what the server then owes. */
export interface InPlaceOfRefused {
  message: Buffer;
  expect: Pending;
}

/**
 * Whether Gatehouse answers a refusal itself: nothing is in flight (`owed` pending entries), no
 * transaction block is open and no extended batch is waiting for its Sync.
 */
export function answeredByGatehouse(owed: number, txStatus: TransactionStatus, batchForwarded: boolean): boolean {
  return owed === 0 && txStatus !== 'T' && !batchForwarded;
}

/**
 * In place of a refused simple Query (`error`: its ErrorResponse): REFUSAL_QUERY fails where and how
 * the refused one would have (skipped if the server is skipping until Sync; else aborting the
 * transaction block until ROLLBACK, or the implicit transaction of the unsynced batch).
 * `droppedUnnamed`: the unnamed statement the Query drops, put back if the server skips it.
 */
export function refusedQueryUpstream(error: Buffer, droppedUnnamed: PreparedStatement | null): InPlaceOfRefused {
  return { message: encodeQuery(REFUSAL_QUERY), expect: { kind: 'refused-query', error, shown: false, droppedUnnamed } };
}

/**
 * In place of a refused fast-path FunctionCall: a FunctionCall of OID 0, which names no function, so it
 * fails (42883; 25P02 in a failed block) where and how the refused one would have, answered like a
 * simple Query (ErrorResponse, ReadyForQuery), and, unlike a Query, keeps the unnamed statement.
 */
export function refusedFunctionCallUpstream(error: Buffer): InPlaceOfRefused {
  return { message: encodeFunctionCall(0), expect: { kind: 'refused-query', error, shown: false, droppedUnnamed: null } };
}

/**
 * In place of a refused extended-protocol message: one that fails upstream (then the server skips
 * until Sync). `unnamed`: for a refused Parse of the unnamed statement, a Parse that fails also drops
 * it upstream (`dropped`: the statement Gatehouse dropped, put back if the server skips it).
 */
export function refusedExtendedUpstream(error: Buffer, unnamed: { dropped: PreparedStatement | null } | null): InPlaceOfRefused {
  const message =
    unnamed !== null
      ? encodeParse({ name: '', sql: 'gatehouse refused this statement', paramTypes: [] }) // a syntax error
      : encodeBind({ portal: '', statement: `gatehouse.denied.${randomUUID()}`, paramFormats: [], params: [], resultFormats: [] });
  return { message, expect: { kind: 'swap-error', error, droppedUnnamed: unnamed?.dropped ?? null } };
}
