// Extending a preallocated audit log (audit/append-file.ts) ahead of its records with zeros.

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
