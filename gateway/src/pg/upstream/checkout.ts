// Giving a pooled upstream session to a client: the client's pass-through startup parameters and
// application_name applied with set_config (bound values, never SQL text), and the session's
// search_path read (the probe a session starts with), in one round trip that also proves the
// connection is alive; the previous client's reset, when still owed, goes ahead in the same write.

import type { Socket } from 'node:net';
import { encodeBind, encodeClose, encodeExecute, encodeParse, encodeQuery, encodeSync } from '../../wire/frontend.ts';
import { SEARCH_PATH_PROBE } from '../search-path.ts';
import type { TransactionStatus } from '../../wire/backend.ts';
import { ExchangeFailed, idleExchange } from './idle-exchange.ts';
import { checkReset, resetScript } from './reset.ts';

const SET_CONFIG = 'SELECT pg_catalog.set_config($1, $2, false)';

export type CheckoutOutcome =
  /** `searchPath`: the answer to SEARCH_PATH_PROBE after the settings (the session need not ask again). */
  | { kind: 'ready'; parameters: Map<string, string>; searchPath: string | null; leftover: Buffer }
  /**
   * The server refused a value (e.g. an invalid DateStyle): the client is refused, the connection is
   * fine (reset if one was owed, with `parameters` reported meanwhile).
   */
  | { kind: 'refused'; fields: Record<string, string>; parameters: Map<string, string>; leftover: Buffer };

/** A reset the previous client's session still owes (pg/upstream-pool.ts), written ahead of the checkout. */
export interface OwedReset {
  txStatus: TransactionStatus;
  /** The role the connection logged in as (checkReset). */
  role: string;
}

/**
 * Sets each parameter for the session (is_local false, so it lasts until DISCARD ALL), client_encoding
 * last so that the values before it are read as UTF-8. With `owed`, the reset goes first in the same
 * write, and its answers are checked before anything of the checkout is believed. Throws
 * ExchangeFailed when the connection does not answer as an idle session does, or the reset failed
 * (it must be closed).
 */
export async function checkoutSession(
  socket: Socket,
  leftover: Buffer,
  settings: ReadonlyArray<readonly [string, string]>,
  timeoutMs: number,
  owed: OwedReset | null = null,
): Promise<CheckoutOutcome> {
  const ordered = [...settings.filter(([n]) => n.toLowerCase() !== 'client_encoding'), ...settings.filter(([n]) => n.toLowerCase() === 'client_encoding')];
  const reset = owed === null ? null : resetScript(owed.txStatus);
  const out: Buffer[] = reset === null ? [] : [reset.out];
  out.push(encodeParse({ name: '', sql: SET_CONFIG, paramTypes: [25, 25] }));
  for (const [name, value] of ordered) {
    out.push(
      encodeBind({ portal: '', statement: '', paramFormats: [], params: [Buffer.from(name, 'utf8'), Buffer.from(value, 'utf8')], resultFormats: [] }),
      encodeExecute('', 0),
    );
  }
  // The probe goes after the Sync, as a simple Query: it runs even when a setting was refused.
  out.push(encodeClose('S', ''), encodeSync(), encodeQuery(SEARCH_PATH_PROBE));
  const skip = reset?.answers ?? 0;
  const r = await idleExchange(socket, leftover, Buffer.concat(out), skip + 2, timeoutMs);
  const parameters = owed === null ? new Map<string, string>() : checkReset(r.answers.slice(0, skip), owed.role);
  const [batch, probe] = [r.answers[skip]!, r.answers[skip + 1]!];
  for (const a of [batch, probe]) for (const [k, v] of a.parameters) parameters.set(k, v);
  if (probe.status !== 'I') throw new ExchangeFailed(`checkout left the session in transaction status ${probe.status}`);
  // A refused setting's error comes first (the probe's, were there one, after it).
  const errors = [...batch.errors, ...probe.errors];
  if (errors.length > 0) return { kind: 'refused', fields: errors[0]!, parameters, leftover: r.leftover };
  const rows = [...batch.rows, ...probe.rows];
  if (rows.length !== ordered.length + 1) throw new ExchangeFailed(`checkout got ${rows.length} answers for ${ordered.length} settings and the search_path probe`);
  return { kind: 'ready', parameters, searchPath: rows[ordered.length]![0] ?? null, leftover: r.leftover };
}
