// The bytes a session has queued for one socket in this turn, and their hand-over to it in one
// write(2) or writev(2): messages forwarded unchanged stay views of the chunk they arrived in.

import type { Writable } from 'node:stream';

/**
 * Below this many bytes several pieces are copied into one buffer (cheaper than a gathered write
 * for a handful of small messages); above it they are handed over as they are, in one writev.
 */
export const GATHER_COPY_BYTES = 4096;

/**
 * Collects buffers in order. A buffer that starts where the previous one ends in the same memory
 * (consecutive messages of one received chunk, forwarded unchanged) extends that piece instead of
 * adding one, so a whole chunk relayed as it came is one view of it: no copy, one piece.
 */
export class OutputBatch {
  private pieces: Buffer[] = [];
  private bytes = 0;

  get length(): number {
    return this.bytes;
  }

  get isEmpty(): boolean {
    return this.bytes === 0;
  }

  push(buf: Buffer): void {
    if (buf.length === 0) return;
    this.bytes += buf.length;
    const last = this.pieces.length - 1;
    const prev = this.pieces[last];
    if (prev !== undefined && prev.buffer === buf.buffer && prev.byteOffset + prev.length === buf.byteOffset) {
      this.pieces[last] = Buffer.from(prev.buffer, prev.byteOffset, prev.length + buf.length);
      return;
    }
    this.pieces.push(buf);
  }

  /** Forgets everything queued. */
  clear(): void {
    this.pieces = [];
    this.bytes = 0;
  }

  /** Removes and returns what was queued, as pieces in order (contiguous ones already joined). */
  take(): Buffer[] {
    const out = this.pieces;
    this.clear();
    return out;
  }

  /**
   * Removes what was queued and writes it to `socket` as one write (one piece, or small pieces
   * copied together) or one gathered writev (cork, a write per piece, uncork). Returns what the
   * last write returned: false when the socket's buffer is over its high-water mark (pause the
   * source until 'drain').
   */
  writeTo(socket: Writable): boolean {
    return writeGathered(socket, this.bytes, this.take());
  }
}

/** Writes `pieces` (`bytes` in all) to `socket` in one system call where the socket allows. */
export function writeGathered(socket: Writable, bytes: number, pieces: readonly Buffer[]): boolean {
  if (pieces.length === 0) return true;
  if (pieces.length === 1) return socket.write(pieces[0]!);
  if (bytes <= GATHER_COPY_BYTES) return socket.write(Buffer.concat(pieces as Buffer[], bytes));
  socket.cork();
  let ok = true;
  for (const piece of pieces) ok = socket.write(piece);
  socket.uncork();
  return ok;
}
