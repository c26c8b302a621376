// The group-commit ledger of an append-only file (audit/append-file.ts): which batches a completed
// flush confirmed, which flushes run and what each covers, which failure taints which batches, and
// the callers waiting for their batches to be durable. Counts of batches only: no I/O here.

/** Called once the batches written before whenDurable() are on disk, or with why they may not be. */
export type DurableCallback = (error: Error | null) => void;

/** An fdatasync running in the threadpool: it covers the first `upTo` batches written. */
export interface Flush {
  id: number;
  upTo: number;
}

export class DurabilityLedger {
  /** How many of the batches written the last completed fdatasync covers. */
  private syncedCount = 0;
  /** Flushes running now, in start order. */
  private readonly flushes: Flush[] = [];
  private nextFlushId = 0;
  /** Flushes begun before this id began before a failure was applied: their success confirms nothing. */
  private failedBelow = 0;
  /** Batches written before the last failed flush completed: never confirmed, whatever flush comes next. */
  private failedThrough = 0;
  private failure: Error | null = null;
  /**
   * Batches a syncNow() flushed while flushes were in flight: answered once each of those (`ids`) has
   * reported success (kept as careful as before overlapping flushes: syncNow is rare).
   */
  private syncedMeanwhile: { upTo: number; ids: Set<number> } | null = null;
  private readonly waiters: { upTo: number; done: DurableCallback }[] = [];

  /** `appended`: the batches accepted so far (written, or staged to be written at the turn's end). */
  constructor(private readonly appended: () => number) {}

  /** Batches the last completed flush confirmed. */
  get synced(): number {
    return this.syncedCount;
  }

  /** Whether an fdatasync is running now. */
  get flushing(): boolean {
    return this.flushes.length > 0;
  }

  /** Whether anyone waits for batches to be durable. */
  get waiting(): boolean {
    return this.waiters.length > 0;
  }

  /**
   * Answers `done` at once when the first `upTo` batches are known (durable, or failed); else queues
   * it and returns true (the caller sees that a flush covers it).
   */
  wait(upTo: number, done: DurableCallback): boolean {
    if (upTo <= this.failedThrough && this.failure !== null) {
      done(this.failure);
      return false;
    }
    if (this.syncedCount >= upTo) {
      done(null);
      return false;
    }
    this.waiters.push({ upTo, done });
    return true;
  }

  /** Whether a waiter asks for batches that no running flush (nor the last completed one) covers. */
  uncovered(): boolean {
    const covered = this.flushes.at(-1)?.upTo ?? this.syncedCount;
    const last = this.waiters.at(-1);
    return last !== undefined && last.upTo > covered;
  }

  /** A flush begins for the first `upTo` batches written. */
  begin(upTo: number): Flush {
    const flush: Flush = { id: this.nextFlushId++, upTo };
    this.flushes.push(flush);
    return flush;
  }

  /** A flush reported (before its result is applied with succeeded() or failed()). */
  end(flush: Flush): void {
    this.flushes.splice(this.flushes.indexOf(flush), 1);
  }

  /**
   * A flush succeeded: it confirms every batch written before it began (its fdatasync covered them, on
   * a descriptor that would have reported any write-back error since its previous flush), so the
   * waiters of an earlier flush still running are answered too; unless it began before a failure was
   * applied, when it confirms nothing.
   */
  succeeded(flush: Flush): void {
    if (flush.id < this.failedBelow) return;
    let confirmed = flush.upTo;
    const meanwhile = this.syncedMeanwhile;
    if (meanwhile !== null && meanwhile.ids.delete(flush.id) && meanwhile.ids.size === 0) {
      confirmed = Math.max(confirmed, meanwhile.upTo);
      this.syncedMeanwhile = null;
    }
    this.settle(confirmed, null);
  }

  /**
   * A flush failed: every batch not yet confirmed fails, those it covered and all after them (their
   * records follow ones that may be lost), and so does any flush that began before now.
   */
  failed(error: Error): void {
    this.failedBelow = this.nextFlushId;
    this.failedThrough = this.appended();
    this.failure = error;
    this.syncedMeanwhile = null;
    this.settle(Number.POSITIVE_INFINITY, error);
  }

  /** A flush outside the threadpool (syncNow) succeeded for the first `upTo` batches. */
  syncedNow(upTo: number): void {
    if (this.flushes.length > 0) {
      // Belt and braces: the flushes in flight use other descriptors, but their waiters are answered
      // only when each of them has reported, by all the results.
      this.syncedMeanwhile = { upTo: Math.max(this.syncedMeanwhile?.upTo ?? 0, upTo), ids: new Set(this.flushes.map((f) => f.id)) };
      return;
    }
    this.settle(upTo, null);
  }

  /** Answers the waiters covered by a completed (or failed) flush, in the order they asked. */
  settle(upTo: number, error: Error | null): void {
    if (error === null) this.syncedCount = Math.max(this.syncedCount, upTo);
    else {
      this.failedThrough = Math.max(this.failedThrough, Math.min(upTo, this.appended()));
      this.failure = error;
    }
    while (this.waiters.length > 0 && this.waiters[0]!.upTo <= upTo) this.waiters.shift()!.done(error);
  }
}
