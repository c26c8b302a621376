// The client's messages as they go upstream: a Query with its masked tables replaced and its lock
// prefix; statements and portals under the names Gatehouse gave them (pg/portal-table.ts, the
// session's statement prefix), result formats and row limits adjusted for the subject columns
// Gatehouse adds (enforce/subject-columns.ts). The client's own bytes go up when nothing changed
// (forwarded byte for byte).

import { GatehouseError } from '../errors.ts';
import type { LockPrefix } from '../enforce/lock-prefix.ts';
import { encodeBind, encodeClose, encodeDescribe, encodeExecute, encodeQuery, type BindMessage } from '../wire/frontend.ts';
import type { Portal, PreparedStatement } from './pending.ts';
import { prefixedQuery } from './prefixed-query.ts';

/** A Bind or Describe of a statement the client did not prepare through Gatehouse. */
export function unknownStatement(name: string): GatehouseError {
  return new GatehouseError('UNKNOWN_PREPARED_STATEMENT', `prepared statement "${name}" does not exist`, {
    hint: 'Through Gatehouse, bind only statements prepared with Parse on this connection.',
  });
}

/**
 * The client's Query (`raw`) as it goes upstream: `forwardText` in place of its text when masks at the
 * source rewrote it (enforce/mask-rewrite.ts), after the LOCK statements of `prefix` when the
 * relations it checked are locked first (enforce/lock-prefix.ts).
 */
export function queryUpstream(raw: Buffer, forwardText: string | null, prefix: LockPrefix | null): Buffer {
  if (prefix === null) return forwardText === null ? raw : encodeQuery(forwardText);
  return forwardText === null ? prefixedQuery(prefix, raw) : encodeQuery(prefix.text + forwardText);
}

/** The client's Bind (`raw`) of `statement` into `portal`, as it goes upstream. */
export function bindUpstream(msg: BindMessage, raw: Buffer, statement: PreparedStatement, portal: Portal): Buffer {
  const renamed = statement.upstreamName !== msg.statement || portal.upstreamName !== msg.portal;
  // Hidden subject columns (enforce/subject-columns.ts) are always text: a format per column gets theirs appended.
  const hidden = statement.subjects?.hidden.length ?? 0;
  // A write whose whole RETURNING Gatehouse added has no columns for the client: PostgreSQL ignores
  // result formats there, so they are not sent for Gatehouse's column (red-team R9b-2).
  const formats =
    statement.subjects?.returningAdded === true && msg.resultFormats.length > 0
      ? []
      : hidden > 0 && msg.resultFormats.length > 1
        ? [...msg.resultFormats, ...new Array<number>(hidden).fill(0)]
        : msg.resultFormats;
  return renamed || formats !== msg.resultFormats ? encodeBind({ ...msg, statement: statement.upstreamName, portal: portal.upstreamName, resultFormats: formats }) : raw;
}

/** The client's Describe (`raw`) of `clientName`, known upstream as `upstreamName`. */
export function describeUpstream(target: 'S' | 'P', clientName: string, upstreamName: string, raw: Buffer): Buffer {
  return upstreamName === clientName ? raw : encodeDescribe(target, upstreamName);
}

/** The client's Close (`raw`) of `clientName`, known upstream as `upstreamName`. */
export function closeUpstream(target: 'S' | 'P', clientName: string, upstreamName: string, raw: Buffer): Buffer {
  return upstreamName === clientName ? raw : encodeClose(target, upstreamName);
}

/** The client's Execute (`raw`) of `portal`, which it calls `clientName`, with its row limit. */
export function executeUpstream(portal: Portal, clientName: string, maxRows: number, raw: Buffer): Buffer {
  // A write whose whole RETURNING Gatehouse added (enforce/subject-columns.ts) runs without a row
  // limit, as the client's statement (no rows) would: else PostgreSQL suspends it (red-team R9b-2).
  const rows = portal.statement.subjects?.returningAdded === true ? 0 : maxRows;
  return portal.upstreamName === clientName && rows === maxRows ? raw : encodeExecute(portal.upstreamName, rows);
}
