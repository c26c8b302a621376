// Extending a preallocated audit log (audit/append-file.ts) ahead of its records with zeros, in chunks.

import { ftruncateSync, writeSync } from 'node:fs';

/** Written to extend a preallocated file. */
const ZEROS = Buffer.alloc(1 << 20);

/**
 * Extends the file open on `fd` from `from` to `to` bytes with zeros. Zeros written (not a hole, not
 * fallocate's unwritten extents), so later records overwrite initialised blocks and their fdatasync is
 * a data flush. On failure (disk full) what this extension added is cut off and the error thrown.
 */
export function extendWithZeros(fd: number, from: number, to: number): void {
  let at = from;
  try {
    while (at < to) at += writeSync(fd, ZEROS, 0, Math.min(ZEROS.length, to - at), at);
  } catch (e) {
    // Cut back what this extension added; space reserved before it (for staged batches) stays.
    if (at > from) {
      try {
        ftruncateSync(fd, from);
      } catch {
        // The extra zeros stay: the readers skip them.
      }
    }
    throw e;
  }
}

/**
 * The space of a preallocated file (audit/append-file.ts): extended with zeros ahead of the writes in
 * whole chunks, so that most flushes write into blocks already allocated and sized.
 */
export class PreallocatedSpace {
  /** The file's real length: the data plus the zero tail preallocated ahead of it. */
  allocated: number;
  /**
   * `allocated` when a whole chunk last did not fit (a nearly full disk): until the file has grown by
   * a chunk since, each batch is given only the space it needs, instead of writing zeros up to the
   * disk's end and cutting them back again for every batch.
   */
  private chunkFailedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly fd: number,
    private readonly chunk: number,
    size: number,
  ) {
    this.allocated = size;
  }

  /** Makes room for data ending at `end`: a chunk beyond it, or only what it needs; throws when not even that fits. */
  reserve(end: number): void {
    if (end <= this.allocated) return;
    if (this.allocated - this.chunkFailedAt < this.chunk) this.extend(end);
    else {
      try {
        this.extend(end + this.chunk);
      } catch {
        // No room for a whole chunk (a nearly full disk): only what this batch needs, or its error.
        this.chunkFailedAt = this.allocated;
        this.extend(end);
      }
    }
  }

  /** Extends the file with zeros to `to` bytes; throws when it cannot. */
  private extend(to: number): void {
    extendWithZeros(this.fd, this.allocated, to);
    this.allocated = to;
  }
}
