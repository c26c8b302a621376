// Where the client's extended-protocol batch stands: whether its messages are discarded until its
// Sync (after an error), and whether anything went upstream since the last Sync.

export class BatchState {
  /** After an error in an extended-protocol batch, client messages are discarded until Sync. */
  skipUntilSync = false;
  /** Something was forwarded upstream since the last Sync (its effects depend on the batch's fate). */
  forwarded = false;
}
