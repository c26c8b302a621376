// Giving a pooled upstream session to a client: the client's pass-through startup parameters and
// application_name applied with set_config (bound values, never SQL text), and the session's
// search_path read (the probe a session starts with), in one round trip that also proves the
// connection is alive.

import type { Socket } from 'node:net';
import { encodeBind, encodeClose, encodeExecute, encodeParse, encodeQuery, encodeSync } from '../../wire/frontend.ts';
import { SEARCH_PATH_PROBE } from '../search-path.ts';
import { ExchangeFailed, idleExchange } from './idle-exchange.ts';

const SET_CONFIG = 'SELECT pg_catalog.set_config($1, $2, false)';

export type CheckoutOutcome =
  /** `searchPath`: the answer to SEARCH_PATH_PROBE after the settings (the session need not ask again). */
  | { kind: 'ready'; parameters: Map<string, string>; searchPath: string | null; leftover: Buffer }
  /** The server refused a value (e.g. an invalid DateStyle): the client is refused, the connection is fine. */
  | { kind: 'refused'; fields: Record<string, string>; leftover: Buffer };

/**
 * Sets each parameter for the session (is_local false, so it lasts until DISCARD ALL), client_encoding
 * last so that the values before it are read as UTF-8. Throws ExchangeFailed when the connection
 * does not answer as an idle session does (it must be closed).
 */
export async function checkoutSession(socket: Socket, leftover: Buffer, settings: ReadonlyArray<readonly [string, string]>, timeoutMs: number): Promise<CheckoutOutcome> {
  const ordered = [...settings.filter(([n]) => n.toLowerCase() !== 'client_encoding'), ...settings.filter(([n]) => n.toLowerCase() === 'client_encoding')];
  const out: Buffer[] = [encodeParse({ name: '', sql: SET_CONFIG, paramTypes: [25, 25] })];
  for (const [name, value] of ordered) {
    out.push(
      encodeBind({ portal: '', statement: '', paramFormats: [], params: [Buffer.from(name, 'utf8'), Buffer.from(value, 'utf8')], resultFormats: [] }),
      encodeExecute('', 0),
    );
  }
  // The probe goes after the Sync, as a simple Query: it runs even when a setting was refused.
  out.push(encodeClose('S', ''), encodeSync(), encodeQuery(SEARCH_PATH_PROBE));
  const r = await idleExchange(socket, leftover, Buffer.concat(out), 2, timeoutMs);
  if (r.status !== 'I') throw new ExchangeFailed(`checkout left the session in transaction status ${r.status}`);
  // A refused setting's error comes first (the probe's, were there one, after it).
  if (r.errors.length > 0) return { kind: 'refused', fields: r.errors[0]!, leftover: r.leftover };
  if (r.rows.length !== ordered.length + 1) throw new ExchangeFailed(`checkout got ${r.rows.length} answers for ${ordered.length} settings and the search_path probe`);
  return { kind: 'ready', parameters: r.parameters, searchPath: r.rows[ordered.length]![0] ?? null, leftover: r.leftover };
}
