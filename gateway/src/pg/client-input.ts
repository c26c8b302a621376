// Which client message a session takes next: the framer's buffered bytes in order, or the message
// set aside to wait for upstream answers (pg/statement-order.ts), unless something holds them all (a
// search_path probe outstanding, a decision still to come, a COPY FROM STDIN starting).

import { MessageFramer, type Frame } from '../wire/framer.ts';
import { encodeFlush, type FrontendMessage } from '../wire/frontend.ts';
import type { PendingQueue } from './pending.ts';
import { parkingFor, stillParked, type OrderView, type Parked } from './statement-order.ts';
import { oversizedTextKeep, type StatementLimits } from './statement-limits.ts';

/** What the order of client messages depends on in the session. */
export interface ClientInputHost {
  readonly pending: PendingQueue;
  /** The tables and path a message may wait on (OrderView, read when a message arrives). */
  orderView(): OrderView;
  /** Something else holds client messages: a decision still to come, a COPY FROM STDIN starting. */
  waiting(): boolean;
  /** Queues a message upstream, outside the client's batch (not counted as forwarded). */
  pushUpstream(message: Buffer): void;
}

export class ClientInput {
  private readonly framer: MessageFramer;
  /** Client messages wait in the framer while a search_path probe is outstanding. */
  holdClient = false;
  /** A client message waiting for upstream answers (pg/statement-order.ts); `released`: the frame just taken was one. */
  private parked: Parked | null = null;
  private released: Parked['on'] | null = null;

  constructor(
    maxMessageBytes: number,
    limits: StatementLimits,
    private readonly host: ClientInputHost,
  ) {
    // A Query over the statement size limit is refused from its first bytes; the rest is never buffered.
    this.framer = new MessageFramer(maxMessageBytes, { truncate: oversizedTextKeep(limits) });
  }

  push(chunk: Buffer): void {
    this.framer.push(chunk);
  }

  /** Client bytes buffered, not yet taken. */
  get buffered(): number {
    return this.framer.buffered;
  }

  /** The frame just taken had waited for the statements ahead of it (they then lock on its behalf: pg/arrival-locks.ts). */
  get afterStatementsAhead(): boolean {
    return this.released === 'statements ahead';
  }

  nextClientFrameHeld(): boolean {
    if (this.holdClient || this.host.waiting()) return true;
    return this.parked !== null && stillParked(this.parked, this.host.pending);
  }

  nextClientFrame(): Frame | null {
    if (this.nextClientFrameHeld()) return null;
    const parked = this.parked;
    this.released = parked?.on ?? null;
    if (parked === null) return this.framer.next();
    this.parked = null;
    return parked.frame;
  }

  /**
   * A message that must wait for upstream answers (pg/statement-order.ts): set aside; a Flush goes up
   * so that the server sends the answers it holds back until a Sync or Flush.
   */
  parkedBehind(frame: Frame, msg: FrontendMessage): boolean {
    const parked = parkingFor(frame, msg, this.host.orderView());
    if (parked === null) return false;
    this.parked = parked;
    if (parked.on === 'statements ahead') this.host.pushUpstream(encodeFlush());
    return true;
  }

  /** Upstream answered pending entries: whether the parked message may now go on. */
  parkedReleased(): boolean {
    return this.parked !== null && !stillParked(this.parked, this.host.pending);
  }
}
