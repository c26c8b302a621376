// The FATAL errors that end a client session, as the client hears them: each says why and what to
// do, with PostgreSQL's SQLSTATE for the same situation.

import { GatehouseError } from '../errors.ts';
import { errorResponse } from '../wire/backend.ts';

/** The client broke the protocol (08P01). */
export function protocolViolation(reason: string): Buffer {
  return errorResponse({ severity: 'FATAL', sqlstate: '08P01', message: `protocol violation: ${reason}` });
}

/** The upstream connection failed or closed (08006). */
export function upstreamLostMessage(e: Error | null): Buffer {
  return errorResponse({
    severity: 'FATAL',
    sqlstate: '08006',
    message: `Gatehouse lost its connection to the database${e ? `: ${e.message}` : ''}`,
    hint: 'Reconnect; if this persists, the database or the network to it is down.',
  });
}

/** The gateway is stopping, said the way PostgreSQL says a shutdown (57P01). */
export function shuttingDownMessage(): Buffer {
  return errorResponse({
    severity: 'FATAL',
    sqlstate: '57P01',
    message: 'terminating connection due to administrator command',
    detail: 'Gatehouse is shutting down.',
    hint: 'Reconnect; the operator is restarting or stopping this gateway.',
  });
}

/** The audit records of held statements may not be on disk: they are never sent (AUDIT_FLUSH_FAILED). */
export function auditFlushFailedError(cause: Error): GatehouseError {
  return new GatehouseError('AUDIT_FLUSH_FAILED', 'Gatehouse could not flush its audit log to disk, so the statements just sent were not run', {
    cause,
    hint: 'Tell the Gatehouse operator (audit disk failing); reconnect once the audit log is writable again.',
  });
}
