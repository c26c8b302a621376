// Output to the client held back until Gatehouse knows it may be shown: the results of a simple Query
// whose write fired a pinned trigger function are held until the check appended to it in the write's
// own transaction says the function was not replaced meanwhile (pg/pin-check.ts; red-team round 18b,
// R18b-3), and dropped when it was (they may hold what the replaced body wrote). Copies are kept: a
// frame may be a view of a chunk the framer reuses.

import { GatehouseError } from '../errors.ts';

/** Held output beyond this ends the session (the transaction, not committed, is rolled back with it). */
export const MAX_HELD_OUTPUT_BYTES = 64 * 1024 * 1024;

export class ClientHold {
  private held: Buffer[] | null = null;
  private bytes = 0;

  get active(): boolean {
    return this.held !== null;
  }

  start(): void {
    if (this.held === null) {
      this.held = [];
      this.bytes = 0;
    }
  }

  /** Keeps a copy of `message` (only while active). */
  push(message: Buffer): void {
    if (this.held === null) throw new Error('client output pushed to a hold not started');
    this.bytes += message.length;
    if (this.bytes > MAX_HELD_OUTPUT_BYTES) {
      this.held = null; // dropped: the error that ends the session goes out alone
      throw new GatehouseError('STATEMENT_LIMIT', `Gatehouse holds a write's results until it has checked, in the write's transaction, that the trigger functions it fired were not replaced while it ran; they exceeded ${MAX_HELD_OUTPUT_BYTES} bytes, so the session ends and the write is rolled back`, {
        hint: 'Return fewer rows from the write (RETURNING), or split it.',
      });
    }
    this.held.push(Buffer.from(message));
  }

  /** Ends the hold; what it kept, in order. */
  take(): Buffer[] {
    const out = this.held ?? [];
    this.held = null;
    this.bytes = 0;
    return out;
  }
}
