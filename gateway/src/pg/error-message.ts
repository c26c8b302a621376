// The ErrorResponse a client gets for a Gatehouse refusal (errors.ts): its SQLSTATE, message, detail and hint.

import type { GatehouseError } from '../errors.ts';
import { errorResponse } from '../wire/backend.ts';

/** The error the client sees for a Gatehouse refusal. */
export function errorMessageFor(e: GatehouseError): Buffer {
  return errorResponse({
    severity: e.severity,
    sqlstate: e.sqlstate,
    message: e.message,
    ...(e.detail !== undefined ? { detail: e.detail } : {}),
    ...(e.hint !== undefined ? { hint: e.hint } : {}),
  });
}
