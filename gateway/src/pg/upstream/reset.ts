// Returning a pooled upstream session to a clean state before another client gets it: its open
// transaction rolled back, DISCARD ALL, and the parser settings and role Gatehouse relies on checked.

import type { Socket } from 'node:net';
import type { TransactionStatus } from '../../wire/backend.ts';
import { encodeQuery } from '../../wire/frontend.ts';
import { unsafeSetting } from '../session-invariants.ts';
import { ExchangeFailed, idleExchange } from './idle-exchange.ts';

/**
 * Read after DISCARD ALL: the two parser settings (pg/session-invariants.ts) and who the session
 * runs as (SET ROLE and SET SESSION AUTHORIZATION must be undone). Schema-qualified, so no
 * search_path can redirect it.
 */
export const RESET_CHECK_QUERY =
  "SELECT pg_catalog.current_setting('standard_conforming_strings'), pg_catalog.current_setting('client_encoding'), current_user, session_user";

/** What a reset leaves for the pool: settings reported meanwhile and bytes received after it. */
export interface ResetOutcome {
  parameters: Map<string, string>;
  leftover: Buffer;
}

/**
 * ROLLBACK (when a transaction is open), DISCARD ALL (prepared statements, portals and cursors,
 * temporary tables, session settings back to the startup values, SET ROLE/SESSION AUTHORIZATION,
 * advisory locks, LISTEN, cached plans, sequences), then RESET_CHECK_QUERY. They go as separate
 * Query messages: DISCARD ALL cannot run inside a transaction block, which a multi-statement string is.
 * Throws ExchangeFailed when anything fails or is not as expected: the connection must be closed.
 */
export async function resetSession(socket: Socket, leftover: Buffer, txStatus: TransactionStatus, role: string, timeoutMs: number): Promise<ResetOutcome> {
  const queries = [...(txStatus === 'I' ? [] : ['ROLLBACK']), 'DISCARD ALL', RESET_CHECK_QUERY];
  const r = await idleExchange(socket, leftover, Buffer.concat(queries.map(encodeQuery)), queries.length, timeoutMs);
  if (r.errors.length > 0) throw new ExchangeFailed(`reset failed: ${r.errors[0]!['M'] ?? 'error'} (SQLSTATE ${r.errors[0]!['C'] ?? '?'})`);
  if (r.status !== 'I') throw new ExchangeFailed(`still in a transaction after the reset (status ${r.status})`);
  const row = r.rows.length === 1 ? r.rows[0]! : null;
  if (row === null || row.length !== 4) throw new ExchangeFailed('the reset check returned no row');
  const [scs, encoding, currentUser, sessionUser] = row;
  const unsafe = unsafeSetting('standard_conforming_strings', scs ?? null) ?? unsafeSetting('client_encoding', encoding ?? null);
  if (unsafe !== null) throw new ExchangeFailed(`after the reset, ${unsafe.setting} is ${JSON.stringify(unsafe.value)}: ${unsafe.why}`);
  if (currentUser !== role || sessionUser !== role) {
    throw new ExchangeFailed(`after the reset the session runs as ${JSON.stringify(currentUser)} (session user ${JSON.stringify(sessionUser)}), not ${JSON.stringify(role)}`);
  }
  r.parameters.set('standard_conforming_strings', scs!);
  r.parameters.set('client_encoding', encoding!);
  return { parameters: r.parameters, leftover: r.leftover };
}
