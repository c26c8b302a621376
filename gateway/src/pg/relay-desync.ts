// The error that ends a session when upstream sends a response the request at the head of the
// pending queue cannot produce (pg/pending.ts canProduce).

import { GatehouseError } from '../errors.ts';
import { BE } from '../wire/message-types.ts';
import type { Frame } from '../wire/framer.ts';
import type { Pending } from './pending.ts';

/** The name of a backend message type byte, for the desynchronisation error. */
const BACKEND_NAMES = new Map<number, string>(Object.entries(BE).map(([name, type]) => [type, name]));

/**
 * A response that does not belong to the request at the head of the pending queue. Relaying it
 * could put one statement's rows or errors under another's masking, so the session ends.
 */
export function desync(frame: Frame, head: Pending | undefined): GatehouseError {
  const got = BACKEND_NAMES.get(frame.type) ?? `message type 0x${frame.type.toString(16)}`;
  return new GatehouseError(
    'PROTOCOL_VIOLATION',
    `Gatehouse lost track of the database's responses (${got} while waiting for the answer to ${head ? head.kind : 'nothing'}), so it closed the session rather than relay results it cannot attribute`,
    { hint: 'Reconnect. Please report this to the Gatehouse operator: the gateway log names the session.' },
  );
}
