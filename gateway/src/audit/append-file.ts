// An append-only file written in whole batches of lines, with group commit: a batch reaches the
// file entirely or not at all, and one fdatasync is shared by every batch written before it.

import { closeSync, fdatasync, fdatasyncSync, fstatSync, ftruncateSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/** The path that means standard output (never flushed to disk, never cut back). */
export const STDOUT = '-';

/** Called once the batches written before whenDurable() are on disk, or with why they may not be. */
export type DurableCallback = (error: Error | null) => void;

export class AppendFile {
  private readonly fd: number;
  /** End of the last whole batch: a failed write is cut back to here. */
  private size: number;
  /** Batches written so far, and how many of them the last completed fdatasync covers. */
  private written = 0;
  private synced = 0;
  private syncing = false;
  /** Batches a syncNow() flushed while a background flush was in flight (answered when that one reports). */
  private syncedMeanwhile = 0;
  private syncScheduled = false;
  private closed = false;
  private readonly fsync: boolean;
  private readonly waiters: { upTo: number; done: DurableCallback }[] = [];

  /**
   * Opens (creating it and its directory) `path` for appending. `fsync` false: whenDurable() is
   * answered at once (the batch is in the kernel, not necessarily on disk).
   */
  constructor(
    readonly path: string,
    fsync: boolean,
  ) {
    this.fsync = fsync && path !== STDOUT;
    if (path === STDOUT) {
      this.fd = 1;
      this.size = 0;
      return;
    }
    mkdirSync(dirname(path), { recursive: true });
    this.fd = openSync(path, 'a');
    this.size = fstatSync(this.fd).size;
  }

  /** The last whole line of the file (without its newline), or null when it is empty; cuts a torn tail. */
  lastLine(): string | null {
    if (this.size === 0 || this.path === STDOUT) return null;
    const tailBytes = Math.min(this.size, 1 << 20);
    const buf = Buffer.alloc(tailBytes);
    // A separate descriptor: the appending one is write-only.
    const reader = openSync(this.path, 'r');
    try {
      readSync(reader, buf, 0, tailBytes, this.size - tailBytes);
    } finally {
      closeSync(reader);
    }
    let end = buf.length;
    if (buf[end - 1] !== 0x0a) {
      // A line without its newline was cut by a crash mid-write: not durable, so nothing acted on it.
      const cut = buf.lastIndexOf(0x0a);
      this.truncate(cut < 0 ? this.size - tailBytes : this.size - tailBytes + cut + 1);
      end = cut + 1;
      if (end <= 0) return null;
    }
    const start = buf.lastIndexOf(0x0a, end - 2) + 1;
    return buf.subarray(start, end - 1).toString('utf8');
  }

  /** Bytes in the file (what was there at open, plus what was appended since). */
  get bytes(): number {
    return this.size;
  }

  /** Appends `batch` whole, or throws after cutting the file back to where it was. */
  append(batch: Buffer): void {
    if (this.closed) throw new Error('audit file is closed');
    let done = 0;
    try {
      while (done < batch.length) done += writeSync(this.fd, batch, done, batch.length - done);
    } catch (e) {
      if (done > 0) this.truncate(this.size);
      throw e;
    }
    this.size += batch.length;
    this.written++;
  }

  /** Calls `done` once everything appended so far is on disk (one fdatasync for all waiting callers). */
  whenDurable(done: DurableCallback): void {
    if (!this.fsync || this.synced === this.written) return done(null);
    this.waiters.push({ upTo: this.written, done });
    this.scheduleSync();
  }

  /** Flushes to disk now (at close, rotation, recovery); throws when it cannot. */
  syncNow(): void {
    const upTo = this.written;
    try {
      if (this.fsync) fdatasyncSync(this.fd);
    } catch (e) {
      // The pages that failed may be dropped with their error: a later flush can succeed without them,
      // so whoever waits for these batches hears of this failure, never "durable".
      this.settle(upTo, e as Error);
      throw e;
    }
    if (this.syncing) {
      // The background flush may have taken a write-back error this one then did not see: its
      // waiters are answered when it reports, by both results.
      this.syncedMeanwhile = Math.max(this.syncedMeanwhile, upTo);
      return;
    }
    this.settle(upTo, null);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.syncing) return; // closed, and its waiters answered, when that flush completes
    if (this.waiters.length > 0) {
      try {
        this.syncNow();
      } catch (e) {
        this.settle(this.written, e as Error);
      }
    }
    if (this.fd !== 1) closeSync(this.fd);
  }

  private truncate(to: number): void {
    try {
      ftruncateSync(this.fd, to);
      this.size = to;
    } catch {
      // The partial batch stays; the verifier reports the unparsable line.
    }
  }

  /** Starts the next fdatasync after this turn's I/O callbacks, so their batches share it. */
  private scheduleSync(): void {
    if (this.syncing || this.syncScheduled) return;
    this.syncScheduled = true;
    setImmediate(() => {
      this.syncScheduled = false;
      this.startSync();
    });
  }

  private startSync(): void {
    if (this.syncing || this.waiters.length === 0) return;
    if (this.closed) return this.settle(this.written, new Error('audit file closed before it was flushed'));
    this.syncing = true;
    const upTo = this.written;
    fdatasync(this.fd, (error) => {
      this.syncing = false;
      const confirmed = Math.max(upTo, this.syncedMeanwhile);
      this.syncedMeanwhile = 0;
      if (this.closed) {
        let failure: Error | null = error ?? null;
        if (failure === null && confirmed < this.written) {
          try {
            fdatasyncSync(this.fd); // batches appended after this flush began, not flushed by close()
          } catch (e) {
            failure = e as Error;
          }
        }
        if (this.fd !== 1) closeSync(this.fd);
        this.settle(this.written, failure);
        return;
      }
      if (error) this.settle(this.written, error);
      else this.settle(confirmed, null);
      // Records written while this flush ran are already in the file: flush them now, not after the
      // rest of this turn's I/O callbacks (the next turn's records join the flush after that).
      if (this.waiters.length > 0) this.startSync();
    });
  }

  /** Answers the waiters covered by a completed (or failed) flush, in the order they asked. */
  private settle(upTo: number, error: Error | null): void {
    if (error === null) this.synced = Math.max(this.synced, upTo);
    while (this.waiters.length > 0 && this.waiters[0]!.upTo <= upTo) this.waiters.shift()!.done(error);
  }
}
