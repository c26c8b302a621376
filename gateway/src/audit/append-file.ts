// An append-only file written in whole batches of lines, with group commit: a batch reaches the
// file entirely or not at all, and one fdatasync is shared by every batch written before it. Flushes
// overlap: a batch written while one runs starts the next at once (up to MAX_FLUSHES, each on a
// descriptor of its own in its own threadpool thread), and whichever completes first confirms every
// batch written before it began, whatever flush those batches were waiting for.
// Optionally preallocated: the file is extended ahead with zeros in large chunks, so that most
// flushes write data into blocks already allocated and sized (no journal commit for a size change);
// the unused zero tail is cut at close and ignored by readers (audit/unused-tail.ts). Preallocated,
// a batch's space is reserved when it is appended (so a full disk is known at once) and the batches
// of a whole event-loop turn are written with one pwritev at its end, just before their flush.
// Or with a write-ahead ring (audit/write-ahead-ring.ts): each batch is appended to the file and also
// framed into the ring, whose flushes (data only, no journal commit) confirm the batches; the file
// itself is flushed in the background before the ring would overwrite frames it still needs.
// After a failed flush, the bytes past the last good flush are written again (cut back, re-appended,
// flushed) before anything else is appended or called durable (audit/unflushed-tail.ts).

import { closeSync, fdatasync, fdatasyncSync, fstatSync, ftruncateSync, writeSync, writevSync } from 'node:fs';
import { lastWholeLine } from './unused-tail.ts';
import type { RingBackedLog } from './ring-backed-log.ts';
import { UnflushedTail, type Unflushed } from './unflushed-tail.ts';
import { PreallocatedSpace } from './zero-extension.ts';
import { DurabilityLedger, type DurableCallback, type Flush } from './durability-ledger.ts';
import { openFlushDescriptors, openLogFile, openRing, STDOUT } from './append-file-open.ts';

export { STDOUT };

/**
 * Told when batches accepted by append() could not be written at the end of the turn (they are
 * not in the file, which is cut back to the last whole batch; their waiters get `error`).
 */
export type LostCallback = (error: Error) => void;

/**
 * Told when a background flush fails (the disk may have dropped records written before it). Its
 * waiters are told too, but a later flush may have confirmed them all already, so the owner hears of
 * it here even when no one waits.
 */
export type FlushFailedCallback = (error: Error) => void;

export class AppendFile {
  private readonly fd: number;
  /** End of the last whole batch: a failed write is cut back to here. */
  private size: number;
  /** Batches written so far. */
  private written = 0;
  /** Which batches are durable, the flushes running and who waits (audit/durability-ledger.ts). */
  private readonly ledger = new DurabilityLedger(() => this.written + this.staged.length);
  /** Descriptors of this file that no flush is using now (at most MAX_FLUSHES: audit/append-file-open.ts). */
  private readonly flushFds: number[] = [];
  private closed = false;
  private released = false;
  private readonly fsync: boolean;
  /** Bytes to extend the file by, ahead of the writes (0: plain appends). */
  private readonly chunk: number;
  /** The file's real length (`space.allocated`): `size` plus the zero tail preallocated ahead of it. */
  private readonly space: PreallocatedSpace;
  /** Preallocated: batches appended this turn, their space reserved, written together at its end. */
  private staged: Buffer[] = [];
  private stagedBytes = 0;
  private turnEndScheduled = false;
  private readonly onLost: LostCallback;
  private readonly onFlushFailed: FlushFailedCallback;
  /** The write-ahead ring whose flushes confirm batches (null: the file's own flushes do). */
  private readonly ring: RingBackedLog | null = null;
  /** With fsync: the bytes past the last good flush of the file itself, written again after a failed flush. */
  private tail: UnflushedTail | null = null;

  /**
   * Opens (creating it and its directory) `path` for appending. `fsync` false: whenDurable() is
   * answered at once (the batch is in the kernel, not necessarily on disk). `preallocate` > 0 (with
   * fsync only): the file is extended by that many zero bytes whenever a batch would pass its end.
   * A zero tail (or the non-durable bytes a crash left in it) found at open is cut off first.
   * `ringBytes` > 0 (with fsync, not preallocated): batches are confirmed by flushes of a write-ahead
   * ring of that size beside the file (<path>.wal); read what it holds with ringPayloads() before
   * the first append.
   */
  constructor(
    readonly path: string,
    fsync: boolean,
    preallocate = 0,
    onLost: LostCallback = () => undefined,
    onFlushFailed: FlushFailedCallback = () => undefined,
    ringBytes = 0,
  ) {
    this.fsync = fsync && path !== STDOUT;
    this.chunk = this.fsync ? Math.max(0, Math.floor(preallocate)) : 0;
    this.onLost = onLost;
    this.onFlushFailed = onFlushFailed;
    if (path === STDOUT) {
      this.fd = 1;
      this.size = 0;
      this.space = new PreallocatedSpace(1, 0, 0);
      return;
    }
    ({ fd: this.fd, size: this.size } = openLogFile(path, this.chunk > 0));
    this.space = new PreallocatedSpace(this.fd, this.chunk, this.size);
    if (this.fsync) this.tail = new UnflushedTail(path, this.size);
    if (this.fsync && this.chunk === 0 && ringBytes > 0) this.ring = openRing(path, this.fd, ringBytes, (error) => this.failAll(error), () => this.flushDoneClosed());
    if (this.fsync) this.flushFds.push(...openFlushDescriptors(this.ring?.flushedPath ?? path));
  }

  /** What the write-ahead ring holds from before this file was opened (empty without one, or once appended to). */
  ringPayloads(): Buffer[] {
    return this.ring?.payloads() ?? [];
  }

  /** Appends `batch` (records recovered from the ring) and flushes the file itself; throws when it cannot. */
  appendFlushed(batch: Buffer): void {
    if (this.tail?.failed === true) this.repair();
    this.writeBatches([batch], batch.length, null, false);
    this.syncNow();
  }

  /** The last whole line of the file (without its newline), or null when it is empty; cuts a torn tail. */
  lastLine(): string | null {
    if (this.size === 0 || this.path === STDOUT) return null;
    const { line, wholeTo } = lastWholeLine(this.path, this.size);
    if (wholeTo < this.size) this.truncate(wholeTo);
    return line;
  }

  /** Bytes in the file (what was there at open, plus what was appended since, written or reserved). */
  get bytes(): number {
    return this.size + this.stagedBytes;
  }

  /** Whether an fdatasync is running now. */
  get flushing(): boolean {
    return this.ledger.flushing;
  }

  /**
   * Appends `batch` whole, or throws after cutting the file back to where it was. Preallocated, the
   * batch's space is reserved now (a full disk throws here) and it is written at the end of the turn
   * with the others appended meanwhile; a failure then is told to onLost and to its waiters.
   */
  append(batch: Buffer): void {
    if (this.closed) throw new Error('audit file is closed');
    // After a failed flush nothing follows the records that may be NUL on disk until they are written again.
    if (this.tail?.failed === true) this.repair();
    if (this.chunk === 0) return this.writeBatches([batch], batch.length, null);
    this.space.reserve(this.size + this.stagedBytes + batch.length);
    this.staged.push(batch);
    this.stagedBytes += batch.length;
    this.scheduleTurnEnd();
  }

  /**
   * Calls `done` once everything appended so far is on disk (one fdatasync for all waiting callers).
   * With no flush running one starts at once (nothing would join it by waiting, and the disk is idle);
   * otherwise at the end of the turn, for every batch this turn wrote.
   */
  whenDurable(done: DurableCallback): void {
    const upTo = this.written + this.staged.length;
    if (!this.fsync) return done(null);
    if (!this.ledger.wait(upTo, done)) return;
    if (!this.ledger.flushing && !this.closed) this.startSync();
    else this.scheduleTurnEnd();
  }

  /** Flushes to disk now (at close, rotation, recovery); throws when it cannot. */
  syncNow(): void {
    this.writeStaged(true);
    const upTo = this.written;
    try {
      this.flushFile();
      this.ring?.syncedThrough(this.size);
    } catch (e) {
      // The pages that failed may be dropped with their error: a later flush can succeed without them,
      // so whoever waits for these batches hears of this failure, never "durable", and they are written again.
      this.tail?.flushFailed();
      this.ring?.hold();
      this.ledger.settle(upTo, e as Error);
      throw e;
    }
    this.ledger.syncedNow(upTo);
  }

  /** After a failed flush not yet repaired: what a file reopened at this path must write again (adoptUnflushed), else null. */
  takeUnflushed(): Unflushed | null {
    return this.tail?.take() ?? null;
  }

  /** This file was reopened at the path of one closed after a failed flush: `u` is written again before the next append. */
  adoptUnflushed(u: Unflushed): void {
    this.tail?.adopt(u);
    this.ring?.hold();
  }

  /** With a write-ahead ring: flushes the file itself in the background (checkpoints), unless a flush of it runs. */
  flushSoon(): void {
    this.ring?.flushSoon(this.size);
  }

  /** Writes the batches appended this turn now, instead of at its end; throws when they cannot be. */
  writeAppended(): void {
    this.writeStaged(true);
  }

  close(): void {
    if (this.closed) return;
    try {
      this.writeStaged(true);
    } catch {
      // Told to onLost and to the waiters of those batches.
    }
    this.closed = true;
    this.ring?.close();
    if (this.ledger.flushing || this.ring?.flushing === true) return; // closed, and its waiters answered, when those flushes complete
    if (this.ledger.waiting) {
      try {
        this.syncNow();
      } catch (e) {
        this.ledger.settle(this.written, e as Error);
      }
    }
    this.release();
  }

  /** Cuts the unused zero tail (a closed log ends at its last record) and closes the descriptor. */
  private release(): void {
    if (this.fd === 1 || this.released) return;
    this.released = true; // a waiter answered by the last flush may have called close() already
    if (this.space.allocated > this.size) this.truncate(this.size);
    for (const fd of this.flushFds.splice(0)) closeSync(fd);
    this.ring?.release();
    closeSync(this.fd);
  }

  private truncate(to: number): void {
    try {
      ftruncateSync(this.fd, to);
      this.size = to;
      this.space.allocated = to;
      this.tail?.cut(to);
    } catch {
      // The partial batch stays; the verifier reports the unparsable line.
    }
  }

  /**
   * Writes `batches` (`bytes` long in all) at the end of the data with one gathered write (repeated
   * only for what a short write left), or throws after cutting the file back to where it was.
   */
  private writeBatches(batches: Buffer[], bytes: number, at: number | null, frame = true): void {
    let done = 0;
    try {
      done = batches.length === 1 ? writeSync(this.fd, batches[0]!, 0, bytes, at) : writevSync(this.fd, batches, at ?? undefined);
      if (done < bytes) {
        const rest = Buffer.concat(batches, bytes);
        while (done < bytes) done += writeSync(this.fd, rest, done, bytes - done, at === null ? null : at + done);
      }
      if (this.ring !== null && frame) this.ring.frame(batches, bytes, this.size + bytes);
    } catch (e) {
      if (done > 0 || this.space.allocated > this.size) this.truncate(this.size);
      throw e;
    }
    this.size += bytes;
    this.written += batches.length;
    this.tail?.written(batches, this.size);
    if (this.ring !== null) this.tail?.flushed(this.ring.syncedBytes);
  }

  /** Flushes the file itself: after a failed flush, by writing again what may not be on disk. */
  private flushFile(): void {
    if (this.tail?.failed === true) return this.repair();
    if (this.fsync) fdatasyncSync(this.fd);
    this.tail?.flushed(this.size);
  }

  /**
   * After a failed flush: cuts the file back to its last good flush, appends the batches written since
   * again and flushes them (audit/unflushed-tail.ts); only then may the ring forget their frames.
   * Throws when it cannot (they are written again at the next try).
   */
  private repair(): void {
    this.writeStaged(true);
    try {
      this.size = this.tail!.rewrite(this.fd);
      this.space.allocated = this.size;
    } catch (e) {
      try {
        this.size = this.space.allocated = fstatSync(this.fd).size; // cut, partly written: the next try cuts again
      } catch {
        // the next try cuts back to the last good flush all the same
      }
      throw e;
    }
    this.ring?.resume(this.size);
  }

  /**
   * Writes the staged batches (preallocated). On failure their waiters and onLost are told, and
   * the error is thrown when `rethrow` (syncNow, close), else swallowed (the turn's end).
   */
  private writeStaged(rethrow: boolean): void {
    if (this.staged.length === 0) return;
    const batches = this.staged;
    const bytes = this.stagedBytes;
    this.staged = [];
    this.stagedBytes = 0;
    try {
      this.writeBatches(batches, bytes, this.size);
    } catch (e) {
      const error = e as Error;
      // Every waiter so far covers a lost batch or one after it: none may be told "durable".
      this.ledger.settle(Number.POSITIVE_INFINITY, error);
      this.onLost(error);
      if (rethrow) throw error;
    }
  }

  /**
   * At the end of this turn (after its I/O callbacks): writes the batches appended during it and
   * starts a flush for them at once, beside any already running (one on a free descriptor).
   */
  private scheduleTurnEnd(): void {
    if (this.turnEndScheduled) return;
    this.turnEndScheduled = true;
    setImmediate(() => {
      this.turnEndScheduled = false;
      if (this.closed) return;
      this.writeStaged(false);
      this.startSync();
    });
  }

  /** Starts a flush for the waiters no running flush covers, when a descriptor is free. */
  private startSync(): void {
    if (this.closed) return;
    this.writeStaged(false);
    if (!this.ledger.uncovered()) return;
    const fd = this.flushFds.pop();
    if (fd === undefined) return; // started when a running flush completes
    const flush = this.ledger.begin(this.written);
    const end = this.size;
    fdatasync(fd, (error) => {
      this.flushFds.push(fd);
      // Without a ring these are flushes of the file itself: the bytes before `end` are on disk.
      if (error === null && this.ring === null) this.tail?.flushed(end);
      this.flushDone(flush, error ?? null);
    });
  }

  /**
   * Applies a completed flush at once, in whatever order the flushes complete (audit/durability-ledger.ts:
   * a success confirms every batch written before it began; a failure fails every batch not yet
   * confirmed, and the sink refuses until a flush succeeds again).
   */
  private flushDone(flush: Flush, error: Error | null): void {
    this.ledger.end(flush);
    if (error !== null) this.failAll(error);
    else this.ledger.succeeded(flush);
    if (this.closed) {
      if (!this.ledger.flushing && this.ring?.flushing !== true) this.finishClose();
      return;
    }
    // Records written while this flush ran are already in the file: flush them now, not after the
    // rest of this turn's I/O callbacks.
    this.startSync();
  }

  /** A flush failed: every batch not yet confirmed fails, and so does any flush that began before now. */
  private failAll(error: Error): void {
    this.tail?.flushFailed();
    this.ring?.hold();
    this.ledger.failed(error);
    this.onFlushFailed(error);
  }

  /** The ring's background flush of the file completed after close(). */
  private flushDoneClosed(): void {
    if (!this.ledger.flushing) this.finishClose();
  }

  /** close() during flushes, once the last has reported: flushes what none of them covered, releases the file. */
  private finishClose(): void {
    let failure: Error | null = null;
    if (this.ledger.waiting && this.ledger.synced < this.written) {
      try {
        this.flushFile(); // batches appended after the last flush began, not flushed by close()
      } catch (e) {
        failure = e as Error;
      }
    }
    this.release();
    this.ledger.settle(this.written, failure);
  }
}
