// A short scripted conversation Gatehouse holds itself with an idle upstream connection (reset on
// return to the pool, client parameters at checkout): writes its messages, reads until the
// expected number of ReadyForQuery, and refuses anything an idle session cannot answer.

import type { Socket } from 'node:net';
import { decodeDataRow, decodeErrorFields, decodeParameterStatus, decodeReadyForQuery, type TransactionStatus } from '../../wire/backend.ts';
import { BE } from '../../wire/message-types.ts';
import { SocketFrames } from './socket-frames.ts';

/** What the server answered up to and including one ReadyForQuery. */
export interface ExchangeAnswer {
  /** Transaction status of its ReadyForQuery. */
  status: TransactionStatus;
  /** ErrorResponse fields, in order (one failed request each). */
  errors: Record<string, string>[];
  /** DataRow values as text (null for NULL), in order. */
  rows: (string | null)[][];
  /** ParameterStatus messages the server sent meanwhile (name → value, latest wins). */
  parameters: Map<string, string>;
}

export interface ExchangeResult {
  /** One per ReadyForQuery, in order: scripts written together are told apart (pg/upstream/checkout.ts). */
  answers: ExchangeAnswer[];
  /** Bytes received after the last ReadyForQuery (an asynchronous message already on its way). */
  leftover: Buffer;
}

function emptyAnswer(): ExchangeAnswer {
  return { status: 'I', errors: [], rows: [], parameters: new Map() };
}

/** Why an exchange failed: the connection is not in the state it was believed to be in, and must be closed. */
export class ExchangeFailed extends Error {}

/**
 * Writes `out` (already received bytes in `initial` are read first) and reads the answers until
 * `readyCount` ReadyForQuery messages, each ReadyForQuery closing one answer. Notices and
 * notifications are dropped; COPY, portal suspension, authentication or any other message means
 * the session was not idle: ExchangeFailed, as is a close, a socket error or `timeoutMs` without
 * the answers.
 */
export async function idleExchange(socket: Socket, initial: Buffer, out: Buffer, readyCount: number, timeoutMs: number): Promise<ExchangeResult> {
  if (socket.destroyed) throw new ExchangeFailed('the connection is closed');
  const frames = new SocketFrames(socket, initial);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ExchangeFailed(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  const result: ExchangeResult = { answers: [], leftover: Buffer.alloc(0) };
  let answer = emptyAnswer();
  try {
    socket.write(out);
    while (result.answers.length < readyCount) {
      let frame;
      try {
        // Frames already received are taken without a promise each (a checkout's answers arrive in one chunk).
        frame = frames.poll() ?? (await Promise.race([frames.next(), timeout]));
      } catch (e) {
        if (e instanceof ExchangeFailed) throw e;
        throw new ExchangeFailed(e instanceof Error ? e.message : String(e));
      }
      switch (frame.type) {
        case BE.ReadyForQuery:
          answer.status = decodeReadyForQuery(frame.body);
          result.answers.push(answer);
          answer = emptyAnswer();
          break;
        case BE.ErrorResponse:
          answer.errors.push(decodeErrorFields(frame.body));
          break;
        case BE.DataRow:
          answer.rows.push(decodeDataRow(frame.body).map((v) => (v === null ? null : v.toString('utf8'))));
          break;
        case BE.ParameterStatus: {
          const p = decodeParameterStatus(frame.body);
          answer.parameters.set(p.name, p.value);
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
