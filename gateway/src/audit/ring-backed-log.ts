// A durable log backed by its write-ahead ring (audit/write-ahead-ring.ts): frames each batch appended
// to the log into the ring, whose flushes confirm the batches, and keeps the log's own flushes ahead of
// the ring: in the background once a quarter of the ring holds log bytes not yet flushed, in the event
// loop only when the ring comes round to frames the log still needs.

import { closeSync, constants, fdatasync, fdatasyncSync, openSync } from 'node:fs';
import { ringPath, WriteAheadRing } from './write-ahead-ring.ts';

export class RingBackedLog {
  private readonly ring: WriteAheadRing;
  /** A descriptor of the log for its background flush. */
  private readonly flushFd: number;
  /** Bytes of the log known to be on disk. */
  private synced = 0;
  /** Whether a background flush of the log runs now (the log may not be closed meanwhile). */
  flushing = false;
  /** Whether frames may be written: the log was flushed since it was opened, so no old frame is needed. */
  private inUse = false;
  private closed = false;
  /** A flush of the log failed: no frame is forgotten until the log's owner has written its bytes again (resume). */
  private held = false;

  /**
   * The ring of `ringBytes` beside the log at `logPath` (whose appending descriptor is `logFd`).
   * `failed`: a flush of the log failed (every batch not yet confirmed fails). `idle`: a background
   * flush completed after close().
   */
  constructor(
    logPath: string,
    private readonly logFd: number,
    ringBytes: number,
    private readonly failed: (error: Error) => void,
    private readonly idle: () => void,
  ) {
    this.ring = new WriteAheadRing(ringPath(logPath), ringBytes);
    try {
      this.flushFd = openSync(logPath, constants.O_WRONLY);
    } catch (e) {
      this.ring.close();
      throw e;
    }
  }

  /** The file whose flushes confirm batches. */
  get flushedPath(): string {
    return this.ring.path;
  }

  /** What the ring holds from before the log was opened (empty once a frame was written). */
  payloads(): Buffer[] {
    return this.inUse ? [] : this.ring.readFrames();
  }

  /**
   * Frames the batches just appended to the log (which now holds `logEnd` bytes). The first frame after
   * opening flushes the log first: frames of an earlier run may cover bytes of it not yet on disk. A
   * batch too large for the ring is made durable by flushing the log instead. Throws when the ring
   * cannot be written or the log cannot be flushed.
   */
  frame(batches: Buffer[], bytes: number, logEnd: number): void {
    if (!this.inUse || !this.ring.fits(bytes)) {
      this.syncLog(logEnd);
      this.inUse = true;
      if (!this.ring.fits(bytes)) return;
    }
    this.ring.write(batches.length === 1 ? batches[0]! : Buffer.concat(batches, bytes), logEnd, () => this.synced, () => this.syncLog(logEnd));
    if (!this.flushing && logEnd - this.synced > this.ring.size / 4) this.flushSoon(logEnd);
  }

  /** Bytes of the log known to be on disk (frames of bytes past them are kept). */
  get syncedBytes(): number {
    return this.synced;
  }

  /** A flush of the log failed: its bytes past `syncedBytes` may be NUL on disk though later flushes succeed. */
  hold(): void {
    this.held = true;
  }

  /** The log's owner wrote its bytes after a failed flush again and flushed them, the first `logEnd` of them. */
  resume(logEnd: number): void {
    this.held = false;
    this.syncedThrough(logEnd);
  }

  /** The log's first `logEnd` bytes were flushed (by its owner: close, rotation), unless a failed flush holds the frames. */
  syncedThrough(logEnd: number): void {
    if (this.held) return;
    this.synced = Math.max(this.synced, logEnd);
    this.ring.forgetThrough(this.synced);
  }

  /** Flushes the log's first `logEnd` bytes in the threadpool, beside the ring's flushes, unless one runs or they are. */
  flushSoon(logEnd: number): void {
    if (this.flushing || this.closed || logEnd <= this.synced) return;
    this.flushing = true;
    fdatasync(this.flushFd, (error) => {
      this.flushing = false;
      if (error !== null) this.failed(error);
      else this.syncedThrough(logEnd);
      if (this.closed) this.idle();
    });
  }

  /** Stops background flushes; release() once `flushing` is false. */
  close(): void {
    this.closed = true;
  }

  release(): void {
    closeSync(this.flushFd);
    this.ring.close();
  }

  /** Flushes the log in the event loop; a failure is told to `failed` and thrown. */
  private syncLog(logEnd: number): void {
    try {
      fdatasyncSync(this.logFd);
    } catch (e) {
      this.failed(e as Error);
      throw e;
    }
    this.syncedThrough(logEnd);
  }
}
