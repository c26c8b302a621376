// Watches the ParameterStatus messages PostgreSQL sends during a session. Gatehouse refuses every
// statement that sets standard_conforming_strings or client_encoding unsafely, but code it cannot
// see can still change them (a function calling set_config(), a procedure, a DO block); the server
// reports the new value before its ReadyForQuery, and an unsafe one ends the session (FATAL 22023)
// before any later statement of the client is analysed.

import { decodeParameterStatus, errorResponse } from '../wire/backend.ts';
import type { Frame } from '../wire/framer.ts';
import { unsafeSessionError, unsafeSetting } from '../sql/session-invariants.ts';

/** What the guard needs of a Session. */
export interface GuardedSession {
  emit(message: Buffer): void;
  /** `problem`: audited as a protocol error with `why`, and logged. */
  close(why: string, problem?: boolean): void;
}

/**
 * Whether this ParameterStatus may be relayed to the client. When it reports an unsafe parser
 * setting, the client gets FATAL 22023 instead, the session is closed (audited with the reason)
 * and false is returned.
 */
export function parameterStatusAllowed(session: GuardedSession, frame: Frame): boolean {
  const { name, value } = decodeParameterStatus(frame.body);
  const unsafe = unsafeSetting(name, value);
  if (unsafe === null) return true;
  const error = unsafeSessionError(unsafe, 'session');
  session.emit(
    errorResponse({
      severity: error.severity,
      sqlstate: error.sqlstate,
      message: error.message,
      ...(error.detail === undefined ? {} : { detail: error.detail }),
      ...(error.hint === undefined ? {} : { hint: error.hint }),
    }),
  );
  session.close(`unsafe parser setting reported by the database: ${unsafe.setting} = ${JSON.stringify(value)}`, true);
  return false;
}
