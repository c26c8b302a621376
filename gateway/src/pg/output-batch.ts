// The bytes a session has queued for one socket in this turn, and their hand-over to it in one
// write(2) or writev(2): messages forwarded unchanged stay views of the chunk they arrived in.

import type { Writable } from 'node:stream';

/**
 * Below this many bytes several pieces are copied into one buffer (cheaper than a gathered write
 * for a handful of small messages); above it they are handed over as they are, in one writev.
 */
export const GATHER_COPY_BYTES = 4096;

/**
 * Above this many pieces they are copied into one buffer whatever their size: a write per piece
 * costs more than copying it (many small rewritten messages, e.g. masked rows).
 */
export const MAX_GATHER_PIECES = 16;

/**
 * Collects buffers in order. Consecutive messages of one received chunk, forwarded unchanged
 * (pushSlice), are joined into one view of that chunk, so a chunk relayed as it came is one
 * piece (the chunk itself): no copy, no view per message, and no per-message work beyond two
 * comparisons.
 */
export class OutputBatch {
  private pieces: Buffer[] = [];
  private bytes = 0;
  /** The run of consecutive slices being joined: its chunk and its span in the chunk. */
  private runChunk: Buffer | null = null;
  private runStart = 0;
  private runEnd = 0;

  get length(): number {
    return this.bytes;
  }

  get isEmpty(): boolean {
    return this.bytes === 0;
  }

  /** Queues a buffer of its own (a message Gatehouse built or rewrote). */
  push(buf: Buffer): void {
    if (buf.length === 0) return;
    this.endRun();
    this.bytes += buf.length;
    this.pieces.push(buf);
  }

  /** Queues `chunk.subarray(at, at + length)` (a message as received) without making that view. */
  pushSlice(chunk: Buffer, at: number, length: number): void {
    if (length === 0) return;
    this.bytes += length;
    if (chunk === this.runChunk && at === this.runEnd) {
      this.runEnd += length;
      return;
    }
    this.endRun();
    this.runChunk = chunk;
    this.runStart = at;
    this.runEnd = at + length;
  }

  /** Forgets everything queued. */
  clear(): void {
    this.pieces = [];
    this.bytes = 0;
    this.runChunk = null;
  }

  /** Removes and returns what was queued, as pieces in order (consecutive slices joined). */
  take(): Buffer[] {
    this.endRun();
    const out = this.pieces;
    this.clear();
    return out;
  }

  private endRun(): void {
    const chunk = this.runChunk;
    if (chunk === null) return;
    // A whole chunk relayed as it came is handed over as it is: not even a view is made.
    this.pieces.push(this.runStart === 0 && this.runEnd === chunk.length ? chunk : chunk.subarray(this.runStart, this.runEnd));
    this.runChunk = null;
  }

  /**
   * Removes what was queued and writes it to `socket` as one write (one piece, or small or many
   * pieces copied together) or one gathered writev of a few large pieces (cork, a write each, uncork). Returns what the
   * last write returned: false when the socket's buffer is over its high-water mark (pause the
   * source until 'drain').
   */
  writeTo(socket: Writable): boolean {
    return writeGathered(socket, this.bytes, this.take());
  }
}

/** Writes `pieces` (`bytes` in all) to `socket`: one write, or one writev of a few large pieces. */
export function writeGathered(socket: Writable, bytes: number, pieces: readonly Buffer[]): boolean {
  if (pieces.length === 0) return true;
  if (pieces.length === 1) return socket.write(pieces[0]!);
  if (bytes <= GATHER_COPY_BYTES || pieces.length > MAX_GATHER_PIECES) return socket.write(Buffer.concat(pieces as Buffer[], bytes));
  socket.cork();
  let ok = true;
  for (const piece of pieces) ok = socket.write(piece);
  socket.uncork();
  return ok;
}
