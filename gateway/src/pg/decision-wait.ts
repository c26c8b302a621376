// A session's wait for a value still to come (a decision evaluated in a worker, an approval): while
// it waits, later client messages are held in order (the session asks `active`); a CancelRequest
// ends the wait at once; a value arriving after a cancel or after the session's end is only
// accounted for. Other sessions are not affected. A decision abandoned so (cancel, end) is told to
// stop (work-slices.ts SliceStop); while it is still in a run of slices, the session's next messages
// wait for that run to end (at most one slice), so one session has one sliced decision at a time.

import type { GatehouseError } from '../errors.ts';
import { cancelledWait } from './statement-admission.ts';
import type { SliceStop } from '../work-slices.ts';

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
  /** `cancel`: whether there was a wait to cancel (false while only an abandoned decision's slices end). */
  private waiting: { cancel(): boolean } | null = null;
  /** The stop of the decision waited for. */
  private stop: SliceStop | null = null;

  constructor(private readonly host: WaitHost) {}

  /** A value is still to come: client messages after it wait. */
  get active(): boolean {
    return this.waiting !== null;
  }

  /**
   * Runs `handlers.resume` with `value` now, or, when it is still to come, holds every later client
   * message in order until it arrives. A cancel meanwhile answers the held message with 57014 at
   * once; after a cancel or the session's end the value goes to `handlers.late`. `pending` must not
   * reject. `stop`: the stop signal `pending` was started with, set on a cancel or the session's end.
   */
  hold<T>(pending: T | Promise<T>, handlers: HoldHandlers<T>, stop?: SliceStop): void {
    if (!(pending instanceof Promise)) return handlers.resume(pending);
    let settled = false;
    const wait = {
      cancel: () => {
        settled = true;
        this.waiting = null;
        this.stop = null;
        if (stop !== undefined) this.abandon(stop);
        handlers.cancel(cancelledWait());
        return true;
      },
    };
    this.waiting = wait;
    this.stop = stop ?? null;
    void pending.then((value) => {
      if (settled || this.host.isClosed()) return handlers.late(value);
      settled = true;
      this.waiting = null;
      this.stop = null;
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
    return this.waiting?.cancel() ?? false;
  }

  /** The session ended: a value still to come is only accounted for when it arrives (late); its decision stops. */
  forget(): void {
    this.waiting = null;
    this.stop?.stop('session ended');
    this.stop = null;
  }

  /**
   * A cancelled decision stops at its next slice boundary and writes the records it owes (in slices);
   * meanwhile the session's next messages wait (a further cancel finds nothing to cancel), and go on
   * in the turn after those runs ended.
   */
  private abandon(stop: SliceStop): void {
    stop.stop('cancelled');
    if (!stop.slicing) return;
    const draining = { cancel: () => false };
    this.waiting = draining;
    // Looked at again a turn later: the records the stopped decision still owes are written in slices too.
    const release = (): void => {
      setImmediate(() => {
        if (this.waiting !== draining) return;
        if (stop.slicing) return stop.whenIdle(release);
        this.waiting = null;
        if (!this.host.isClosed()) this.host.resumed();
      });
    };
    stop.whenIdle(release);
  }
}
