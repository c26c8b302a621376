// The zero tail of a preallocated audit log (audit/append-file.ts): where a log's data ends, and
// which line is no record but the unused, zero-filled space after it; and the last whole line before a
// line a crash cut short.
//
// Records are JSON lines and JSON never holds a raw NUL byte, so the first NUL byte near the end of
// a log is where its data ends: after it come only the zeros written ahead and, after a crash, bytes
// of records that never became durable (their statements were not forwarded).

import { closeSync, openSync, readSync } from 'node:fs';

/** How far back from the end the first NUL byte is looked for (widened while the window starts with one). */
const WINDOW = 4 << 20;

/** Offset where the data of the `length`-byte file at `path` ends: its first NUL byte near the end, or `length`. */
export function dataEnd(path: string, length: number): number {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(Math.min(WINDOW, length));
    let end = length;
    for (let start = Math.max(0, length - buf.length); ; start = Math.max(0, start - buf.length)) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, length - start), start);
      const nul = buf.subarray(0, n).indexOf(0);
      if (nul < 0) return end;
      end = start + nul;
      // The zeros may begin before this window: look further back.
      if (nul > 0 || start === 0) return end;
    }
  } finally {
    closeSync(fd);
  }
}

/** A line made only of NUL bytes: the preallocated end of a log being written (or left by a crash). */
export function isUnusedTail(line: string): boolean {
  return line.length > 0 && /^\0+$/.test(line);
}

/**
 * The last whole line (without its newline) of the first `size` bytes of the log at `path`, or null,
 * and where its whole lines end: before a last line without its newline (cut by a crash mid-write:
 * not durable, so nothing acted on it), which the caller cuts off.
 */
export function lastWholeLine(path: string, size: number): { line: string | null; wholeTo: number } {
  const tailBytes = Math.min(size, 1 << 20);
  const buf = Buffer.alloc(tailBytes);
  const reader = openSync(path, 'r');
  try {
    readSync(reader, buf, 0, tailBytes, size - tailBytes);
  } finally {
    closeSync(reader);
  }
  let end = buf.length;
  let wholeTo = size;
  if (buf[end - 1] !== 0x0a) {
    const cut = buf.lastIndexOf(0x0a);
    wholeTo = cut < 0 ? size - tailBytes : size - tailBytes + cut + 1;
    end = cut + 1;
    if (end <= 0) return { line: null, wholeTo };
  }
  const start = buf.lastIndexOf(0x0a, end - 2) + 1;
  return { line: buf.subarray(start, end - 1).toString('utf8'), wholeTo };
}
