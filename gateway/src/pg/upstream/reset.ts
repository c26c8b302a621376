// Returning a pooled upstream session to a clean state before another client gets it: its open
// transaction rolled back, DISCARD ALL, and the parser settings and role Gatehouse relies on checked.
// On its own, or written together with the next checkout (pg/upstream/checkout.ts).

import { randomInt } from 'node:crypto';
import type { Socket } from 'node:net';
import type { TransactionStatus } from '../../wire/backend.ts';
import { encodeQuery } from '../../wire/frontend.ts';
import { unsafeSetting } from '../../sql/session-invariants.ts';
import { ExchangeFailed, idleExchange, type ExchangeAnswer } from './idle-exchange.ts';

/**
 * Read after DISCARD ALL: the two parser settings (sql/session-invariants.ts) and who the session
 * runs as (SET ROLE and SET SESSION AUTHORIZATION must be undone). Schema-qualified, so no
 * search_path can redirect it.
 */
export const RESET_CHECK_QUERY =
  "SELECT pg_catalog.current_setting('standard_conforming_strings'), pg_catalog.current_setting('client_encoding'), current_user, session_user";

/**
 * RESET_CHECK_QUERY that also reseeds random() from Gatehouse's CSPRNG: DISCARD ALL leaves the seed
 * as the last client's setseed() made it, so that client would know every random() value the next
 * one gets (red-team round 14, R14-2). The seed is a number Gatehouse made, never client text.
 */
export function resetCheckQuery(): string {
  const seed = randomInt(0, 2 ** 47) / 2 ** 47;
  return `${RESET_CHECK_QUERY} FROM pg_catalog.setseed('${seed}'::float8)`;
}

/** What a reset leaves for the pool: settings reported meanwhile and bytes received after it. */
export interface ResetOutcome {
  parameters: Map<string, string>;
  leftover: Buffer;
}

/** The reset's messages, and how many ReadyForQuery answer them. */
export interface ResetScript {
  out: Buffer;
  answers: number;
}

/**
 * ROLLBACK (when a transaction is open), DISCARD ALL (prepared statements, portals and cursors,
 * temporary tables, session settings back to the startup values, SET ROLE/SESSION AUTHORIZATION,
 * advisory locks, LISTEN, cached plans, sequences), then resetCheckQuery() (which also reseeds random()). They go as separate
 * Query messages: DISCARD ALL cannot run inside a transaction block, which a multi-statement string is.
 */
export function resetScript(txStatus: TransactionStatus): ResetScript {
  const queries = [...(txStatus === 'I' ? [] : ['ROLLBACK']), 'DISCARD ALL', resetCheckQuery()];
  return { out: Buffer.concat(queries.map(encodeQuery)), answers: queries.length };
}

/**
 * Checks the answers to resetScript (exactly its `answers` of them) and returns the parameters in
 * force after it. Throws ExchangeFailed when anything failed or is not as expected: the connection
 * must be closed.
 */
export function checkReset(answers: readonly ExchangeAnswer[], role: string): Map<string, string> {
  const parameters = new Map<string, string>();
  for (const a of answers) {
    if (a.errors.length > 0) throw new ExchangeFailed(`reset failed: ${a.errors[0]!['M'] ?? 'error'} (SQLSTATE ${a.errors[0]!['C'] ?? '?'})`);
    for (const [k, v] of a.parameters) parameters.set(k, v);
  }
  const last = answers[answers.length - 1];
  if (last === undefined || last.status !== 'I') throw new ExchangeFailed(`still in a transaction after the reset (status ${last?.status ?? '?'})`);
  const row = last.rows.length === 1 ? last.rows[0]! : null;
  if (row === null || row.length !== 4) throw new ExchangeFailed('the reset check returned no row');
  const [scs, encoding, currentUser, sessionUser] = row;
  const unsafe = unsafeSetting('standard_conforming_strings', scs ?? null) ?? unsafeSetting('client_encoding', encoding ?? null);
  if (unsafe !== null) throw new ExchangeFailed(`after the reset, ${unsafe.setting} is ${JSON.stringify(unsafe.value)}: ${unsafe.why}`);
  if (currentUser !== role || sessionUser !== role) {
    throw new ExchangeFailed(`after the reset the session runs as ${JSON.stringify(currentUser)} (session user ${JSON.stringify(sessionUser)}), not ${JSON.stringify(role)}`);
  }
  parameters.set('standard_conforming_strings', scs!);
  parameters.set('client_encoding', encoding!);
  return parameters;
}

/** Resets the session on its own (resetScript, checkReset); ExchangeFailed: close the connection. */
export async function resetSession(socket: Socket, leftover: Buffer, txStatus: TransactionStatus, role: string, timeoutMs: number): Promise<ResetOutcome> {
  const script = resetScript(txStatus);
  const r = await idleExchange(socket, leftover, script.out, script.answers, timeoutMs);
  return { parameters: checkReset(r.answers, role), leftover: r.leftover };
}
