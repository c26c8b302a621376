// Whether the server is certainly in a failed transaction block when it reads the message Gatehouse is
// about to send: asked before Gatehouse sends its LOCK ahead of a Parse, Bind or Execute
// (pg/arrival-locks.ts: one that waited for the statements ahead of it, pg/statement-order.ts, or one
// locked on arrival; enforce/lock-ahead.ts). In a
// failed block nothing but a transaction exit (ROLLBACK, COMMIT, ROLLBACK TO SAVEPOINT) runs, and none
// names a relation, so that LOCK would protect nothing; it would only fail first (25P02) where
// PostgreSQL reports what it checks before the failed block: an Execute of a portal that ended with its
// transaction (34000), a Bind of the unnamed statement a simple Query dropped (26000). Found by the long
// differential run (fuzz:protocol, seeds 9300, 9301 and 9303).
//
// Certain from a ReadyForQuery that says 'E' until an Execute of the client's completes: in a failed
// block only a transaction exit completes, and it may have ended the block. Meaningful only while no
// Query, Execute or Sync is in flight, which holds whenever a message naming relations is taken (it waits
// while one is): every message that could end the block has then been answered.

import type { TransactionStatus } from '../wire/backend.ts';

export class FailedBlock {
  private certain = false;

  /** A ReadyForQuery with `status` (returned, for the caller to keep). */
  ready(status: TransactionStatus): TransactionStatus {
    this.certain = status === 'E';
    return status;
  }

  /** An Execute of the client's completed (CommandComplete, EmptyQueryResponse or PortalSuspended). */
  executed(): void {
    this.certain = false;
  }

  /** The last ReadyForQuery said 'E' and no Execute completed since. */
  get certainlyFailed(): boolean {
    return this.certain;
  }
}
