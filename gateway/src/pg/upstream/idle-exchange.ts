// A short scripted conversation Gatehouse holds itself with an idle upstream connection (reset on
// return to the pool, client parameters at checkout): writes its messages, reads until the
// expected number of ReadyForQuery, and refuses anything an idle session cannot answer.

import type { Socket } from 'node:net';
import { decodeDataRow, decodeErrorFields, decodeParameterStatus, decodeReadyForQuery, type TransactionStatus } from '../../wire/backend.ts';
import { BE } from '../../wire/message-types.ts';
import { SocketFrames } from './socket-frames.ts';

export interface ExchangeResult {
  /** Transaction status of the last ReadyForQuery. */
  status: TransactionStatus;
  /** ErrorResponse fields, in order (one failed request each). */
  errors: Record<string, string>[];
  /** DataRow values as text (null for NULL), in order. */
  rows: (string | null)[][];
  /** ParameterStatus messages the server sent meanwhile (name → value, latest wins). */
  parameters: Map<string, string>;
  /** Bytes received after the last ReadyForQuery (an asynchronous message already on its way). */
  leftover: Buffer;
}

/** Why an exchange failed: the connection is not in the state it was believed to be in, and must be closed. */
export class ExchangeFailed extends Error {}

/**
 * Writes `out` (already received bytes in `initial` are read first) and reads the answers until
 * `readyCount` ReadyForQuery messages. Notices and notifications are dropped; COPY, portal
 * suspension, authentication or any other message means the session was not idle: ExchangeFailed,
 * as is a close, a socket error or `timeoutMs` without the answers.
 */
export async function idleExchange(socket: Socket, initial: Buffer, out: Buffer, readyCount: number, timeoutMs: number): Promise<ExchangeResult> {
  if (socket.destroyed) throw new ExchangeFailed('the connection is closed');
  const frames = new SocketFrames(socket, initial);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ExchangeFailed(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  const result: ExchangeResult = { status: 'I', errors: [], rows: [], parameters: new Map(), leftover: Buffer.alloc(0) };
  try {
    socket.write(out);
    let ready = 0;
    while (ready < readyCount) {
      let frame;
      try {
        frame = await Promise.race([frames.next(), timeout]);
      } catch (e) {
        if (e instanceof ExchangeFailed) throw e;
        throw new ExchangeFailed(e instanceof Error ? e.message : String(e));
      }
      switch (frame.type) {
        case BE.ReadyForQuery:
          result.status = decodeReadyForQuery(frame.body);
          ready++;
          break;
        case BE.ErrorResponse:
          result.errors.push(decodeErrorFields(frame.body));
          break;
        case BE.DataRow:
          result.rows.push(decodeDataRow(frame.body).map((v) => (v === null ? null : v.toString('utf8'))));
          break;
        case BE.ParameterStatus: {
          const p = decodeParameterStatus(frame.body);
          result.parameters.set(p.name, p.value);
          break;
        }
        case BE.ParseComplete:
        case BE.BindComplete:
        case BE.CloseComplete:
        case BE.CommandComplete:
        case BE.RowDescription:
        case BE.NoData:
        case BE.EmptyQueryResponse:
        case BE.NoticeResponse:
        case BE.NotificationResponse:
          break;
        default:
          throw new ExchangeFailed(`unexpected message type 0x${frame.type.toString(16)} from an idle session`);
      }
    }
    return result;
  } finally {
    clearTimeout(timer);
    result.leftover = frames.detach();
  }
}
