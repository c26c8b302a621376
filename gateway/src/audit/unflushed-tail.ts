// The bytes of a durable audit log past its last good flush, kept in memory until a flush covers them,
// and written again after a flush failed (issue 7). On Linux the pages whose write-back failed are left
// clean in the page cache: reads still show the records, later fdatasyncs (on any descriptor) succeed
// without writing them, and the disk holds NUL bytes there (scripts/failed-flush-after-heal.ts). Writing
// the same bytes again over those pages did not reach the disk either (ext4, 2026-12-07); cutting the
// file back to the last good flush and appending them again does (new blocks, new dirty pages). So
// after a failed flush the log is cut back and the kept bytes re-appended and flushed before anything
// else is written or called durable. Reading them back is no check: it is answered by the page cache.
// A failed flush also destroyed bytes that earlier flushes had stored (same day, same disk: NUL on disk
// from the block holding the last good flush's end, and once 1 to 12 KiB further back; a real disk can
// lose a written neighbour too, e.g. a flash page paired with the one being programmed), so the rewrite
// starts at the 64 KiB boundary before the last good flush, and the log's bytes from there are kept
// too (read from the file at open). A power loss during the rewrite loses at most those 64 KiB of
// durable records, which the failed flush had put at risk already.

import { closeSync, fdatasyncSync, fstatSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';

/**
 * How far before the last good flush's end a failed write-back is taken to have destroyed bytes (at
 * least the file system's block): 64 KiB covered every hole seen on the test disk (at most 13 KiB).
 */
const REWRITE_WINDOW = 65536;

/** What a log closed after a failed flush still has to write again: the batches from `from` on. */
export interface Unflushed {
  from: number;
  batches: Buffer[];
}

export class UnflushedTail {
  /** End of the log's data when the last good flush began: the bytes before it are on disk. */
  private flushedTo: number;
  /** The bytes written from the window's boundary before `flushedTo` on, in batches, and where each ends. */
  private batches: Buffer[] = [];
  private ends: number[] = [];
  /** Where the rewrite begins once a flush failed (the window's boundary before the last good flush then), or null. */
  private failedFrom: number | null = null;
  private readonly block: number;

  /**
   * For the log at `path` whose first `size` bytes are taken as on disk (found there at open): the
   * bytes of its last, partly filled block are read now, to be written again after a failed flush.
   */
  constructor(path: string, size: number, window = REWRITE_WINDOW) {
    this.flushedTo = size;
    const fd = openSync(path, 'r');
    try {
      this.block = Math.max(window, fstatSync(fd).blksize);
      const from = this.blockStart(size);
      const head = Buffer.alloc(size - from);
      for (let n = 0; n < head.length; ) {
        const got = readSync(fd, head, n, head.length - n, from + n);
        if (got === 0) return; // shorter than fstat said (cut meanwhile): nothing kept
        n += got;
      }
      if (head.length > 0) this.written([head], size);
    } finally {
      closeSync(fd);
    }
  }

  /** Whether a flush failed since the log was last rewritten: its bytes past `from` may be NUL on disk. */
  get failed(): boolean {
    return this.failedFrom !== null;
  }

  /** `batches` were appended, the last ending at `end`. */
  written(batches: Buffer[], end: number): void {
    let at = end - batches.reduce((n, b) => n + b.length, 0);
    for (const b of batches) {
      at += b.length;
      this.batches.push(b);
      this.ends.push(at);
    }
  }

  /**
   * A flush that began when the log held `end` bytes succeeded. Ignored after a failure until the
   * rewrite: a flush succeeding then may have skipped the pages that failed.
   */
  flushed(end: number): void {
    if (this.failedFrom !== null || end <= this.flushedTo) return;
    this.flushedTo = end;
    const keepFrom = this.blockStart(end);
    let n = 0;
    while (n < this.ends.length && this.ends[n]! <= keepFrom) n++;
    this.batches.splice(0, n);
    this.ends.splice(0, n);
  }

  /** A flush failed: everything past the last good flush is written again before the log is trusted. */
  flushFailed(): void {
    this.failedFrom ??= Math.max(this.blockStart(this.flushedTo), this.keptFrom());
  }

  /** The log was cut to `to` bytes (a failed write, a torn last line): what lay past it is not kept. */
  cut(to: number): void {
    let n = this.ends.length;
    while (n > 0 && this.ends[n - 1]! - this.batches[n - 1]!.length >= to) n--;
    this.batches.length = n;
    this.ends.length = n;
    const last = n - 1;
    if (last >= 0 && this.ends[last]! > to) {
      this.batches[last] = this.batches[last]!.subarray(0, this.batches[last]!.length - (this.ends[last]! - to));
      this.ends[last] = to;
    }
    this.flushedTo = Math.min(this.flushedTo, to);
    if (this.failedFrom !== null) this.failedFrom = Math.min(this.failedFrom, to);
  }

  /** For a log closed before its rewrite (reopened after an outage): what the next file at its path must write again. */
  take(): Unflushed | null {
    if (this.failedFrom === null) return null;
    return { from: this.failedFrom, batches: this.since(this.failedFrom) };
  }

  /** The log was reopened at the path of one closed before its rewrite: `u` is written again at the next rewrite. */
  adopt(u: Unflushed): void {
    this.failedFrom = u.from;
    this.flushedTo = u.from;
    this.batches = [];
    this.ends = [];
    this.written(u.batches, u.from + u.batches.reduce((n, b) => n + b.length, 0));
  }

  /**
   * After a failed flush: cuts the log (descriptor `fd`) back to the last good flush, appends the kept
   * batches again, whole, and flushes them. Returns the log's new length; throws when any step fails
   * (the batches stay kept for the next try) or when the file is shorter than the last good flush
   * (cut or replaced meanwhile: the records cannot be put back where they were).
   */
  rewrite(fd: number): number {
    const from = this.failedFrom;
    if (from === null) throw new Error('no failed flush to repair');
    const length = fstatSync(fd).size;
    if (length < from) {
      throw new Error(`the audit log holds ${length} bytes, fewer than the ${from} flushed before a flush failed: it was cut or replaced, so the records after them cannot be written again in place`);
    }
    ftruncateSync(fd, from);
    let at = from;
    for (const b of this.since(from)) {
      for (let done = 0; done < b.length; ) done += writeSync(fd, b, done, b.length - done, at + done);
      at += b.length;
    }
    fdatasyncSync(fd);
    this.failedFrom = null;
    this.flushed(at);
    return at;
  }

  /** The kept bytes from `from` on (the first batch cut to start there). */
  private since(from: number): Buffer[] {
    const out: Buffer[] = [];
    for (const [i, b] of this.batches.entries()) {
      const start = this.ends[i]! - b.length;
      if (this.ends[i]! > from) out.push(start >= from ? b : b.subarray(from - start));
    }
    return out;
  }

  /** Where the first kept byte is (the end of the data when nothing is kept). */
  private keptFrom(): number {
    return this.batches.length === 0 ? this.flushedTo : this.ends[0]! - this.batches[0]!.length;
  }

  private blockStart(offset: number): number {
    return offset - (offset % this.block);
  }
}
