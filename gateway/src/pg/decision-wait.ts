// A session's wait for a value still to come (a decision evaluated in a worker, an approval): while
// it waits, later client messages are held in order (the session asks `active`); a CancelRequest
// ends the wait at once; a value arriving after a cancel or after the session's end is only
// accounted for. Other sessions are not affected.

import type { GatehouseError } from '../errors.ts';
import { cancelledWait } from './statement-admission.ts';

/** What a session does with a value it waits for (see DecisionWait.hold). */
export interface HoldHandlers<T> {
  /** The value arrived while the session was still waiting: apply it (later client messages follow). */
  resume(value: T): void;
  /** The client cancelled the wait (CancelRequest): answer for the held message now. */
  cancel(error: GatehouseError): void;
  /** The value arrived after a cancel or after the session ended: only account for it (audit). */
  late(value: T): void;
}

/** What the wait needs of its session. */
export interface WaitHost {
  isClosed(): boolean;
  /** `resume` threw: the session ends on a protocol error. */
  failed(e: unknown): void;
  /** The value was applied: the held client messages go on. */
  resumed(): void;
}

export class DecisionWait {
  private waiting: { cancel(): void } | null = null;

  constructor(private readonly host: WaitHost) {}

  /** A value is still to come: client messages after it wait. */
  get active(): boolean {
    return this.waiting !== null;
  }

  /**
   * Runs `handlers.resume` with `value` now, or, when it is still to come, holds every later client
   * message in order until it arrives. A cancel meanwhile answers the held message with 57014 at
   * once; after a cancel or the session's end the value goes to `handlers.late`. `pending` must not
   * reject.
   */
  hold<T>(pending: T | Promise<T>, handlers: HoldHandlers<T>): void {
    if (!(pending instanceof Promise)) return handlers.resume(pending);
    let settled = false;
    const wait = {
      cancel: () => {
        settled = true;
        this.waiting = null;
        handlers.cancel(cancelledWait());
      },
    };
    this.waiting = wait;
    void pending.then((value) => {
      if (settled || this.host.isClosed()) return handlers.late(value);
      settled = true;
      this.waiting = null;
      try {
        handlers.resume(value);
      } catch (e) {
        this.host.failed(e);
        return;
      }
      this.host.resumed();
    });
  }

  /** A CancelRequest: the value still to come is refused (57014). Whether there was one. */
  cancel(): boolean {
    if (this.waiting === null) return false;
    this.waiting.cancel();
    return true;
  }

  /** The session ended: a value still to come is only accounted for when it arrives (late). */
  forget(): void {
    this.waiting = null;
  }
}
