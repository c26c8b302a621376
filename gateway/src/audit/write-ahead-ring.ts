// The write-ahead ring beside a durable audit log (<log>.wal): a small file of fixed size, written
// with zeros once, into which every batch appended to the log is also written, as a frame, in place.
// Flushing it (fdatasync) writes data into blocks already allocated and sized, without the journal
// commit that a flush of the appended log needs, so statements are answered from its flushes; the
// log itself is flushed only now and then (before the ring would overwrite frames of log bytes not
// yet flushed, at checkpoints, rotation and shutdown). After a crash, the frames hold what the log
// may have lost: audit/ring-replay.ts appends it again.
//
// A frame: MAGIC (8 bytes: a NUL first, which JSON text never holds), the payload's length (u32 LE),
// its SHA-256 (32 bytes), the payload (the exact bytes appended to the log). Frames follow each other
// from the start of the file; one that would not fit before the end goes to the start instead.

import { hash } from 'node:crypto';
import { closeSync, constants, fdatasyncSync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, writeSync, writevSync } from 'node:fs';
import { dirname } from 'node:path';

const MAGIC = Buffer.from([0x00, 0x47, 0x48, 0x57, 0x41, 0x4c, 0x01, 0xff]); // \0 G H W A L 1 \xff
const HEADER = MAGIC.length + 4 + 32;
/** The smallest ring worth having (a frame must fit twice). */
export const MIN_RING_BYTES = 64 * 1024;

/** The ring beside the log at `logPath`. */
export function ringPath(logPath: string): string {
  return `${logPath}.wal`;
}

/** A frame written in the ring: where (counted across laps) and how far into the log its payload reaches. */
interface Frame {
  start: number;
  end: number;
  logEnd: number;
}

export class WriteAheadRing {
  readonly fd: number;
  readonly size: number;
  /** Bytes of the ring used so far, across laps (a frame at `at % size`). */
  private at = 0;
  /** Frames that a later lap has not overwritten yet, oldest first, while their log bytes may not be durable. */
  private readonly frames: Frame[] = [];
  /** What a ring of another size held when it was opened (read before it was rewritten), or null. */
  private readonly resized: Buffer[] | null = null;

  /**
   * Opens (creating it with `size` zero bytes, written, not a hole) the ring at `path`. A ring of
   * another size (audit.ring_bytes changed) is read, then rewritten from zeros.
   */
  constructor(
    readonly path: string,
    size: number,
  ) {
    this.size = Math.max(MIN_RING_BYTES, Math.floor(size));
    this.fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o600);
    try {
      const found = fstatSync(this.fd).size;
      if (found !== this.size) {
        if (found > 0) this.resized = framesIn(this.fd, found);
        this.zero();
      }
    } catch (e) {
      closeSync(this.fd);
      throw e;
    }
  }

  /** The payloads of every whole frame in the ring (in file order, old laps included), for recovery. */
  readFrames(): Buffer[] {
    return this.resized ?? framesIn(this.fd, this.size);
  }

  /** Whether a batch of `bytes` can be framed at all (a larger one is made durable by flushing the log itself). */
  fits(bytes: number): boolean {
    return HEADER + bytes <= this.size / 2;
  }

  /**
   * Writes `payload` as the next frame; its bytes reach `logEnd` in the log. Before overwriting frames
   * whose log bytes are not durable (past `logSynced()`), calls `syncLog()`, which flushes the log
   * (the ring's flushes lagging behind: rare, the log is flushed in the background well before).
   */
  write(payload: Buffer, logEnd: number, logSynced: () => number, syncLog: () => void): void {
    const length = HEADER + payload.length;
    let start = this.at;
    if ((start % this.size) + length > this.size) start += this.size - (start % this.size); // to the start of the file
    while (this.frames.length > 0 && this.frames[0]!.start + this.size < start + length) {
      if (this.frames[0]!.logEnd > logSynced()) syncLog();
      this.frames.shift();
    }
    const header = Buffer.allocUnsafe(HEADER);
    MAGIC.copy(header, 0);
    header.writeUInt32LE(payload.length, MAGIC.length);
    hash('sha256', payload, 'buffer').copy(header, MAGIC.length + 4);
    const offset = start % this.size;
    let done = writevSync(this.fd, [header, payload], offset);
    if (done < length) {
      const whole = Buffer.concat([header, payload]);
      while (done < length) done += writeSync(this.fd, whole, done, length - done, offset + done);
    }
    this.at = start + length;
    this.frames.push({ start, end: this.at, logEnd });
  }

  /** Forgets frames whose log bytes are durable (they may be overwritten freely). */
  forgetThrough(logSynced: number): void {
    while (this.frames.length > 0 && this.frames[0]!.logEnd <= logSynced) this.frames.shift();
  }

  close(): void {
    closeSync(this.fd);
  }

  /** Fills the ring with zeros to its size (written blocks: later frames overwrite them in place). */
  private zero(): void {
    ftruncateSync(this.fd, 0);
    const zeros = Buffer.alloc(Math.min(this.size, 1 << 20));
    for (let at = 0; at < this.size; ) at += writeSync(this.fd, zeros, 0, Math.min(zeros.length, this.size - at), at);
    // Its size and blocks on disk now, and its name: from here on a flush is a data write only.
    fdatasyncSync(this.fd);
    const dir = openSync(dirname(this.path), 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  }
}

/** The payloads of the whole frames in the ring at `path` (none when there is none): for a log whose ring was turned off. */
export function readRingFile(path: string): Buffer[] {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return [];
  }
  try {
    return framesIn(fd, fstatSync(fd).size);
  } finally {
    closeSync(fd);
  }
}

/** The payloads of every whole frame in the first `length` bytes of `fd`, in file order. */
function framesIn(fd: number, length: number): Buffer[] {
  const buf = Buffer.alloc(length);
  let n = 0;
  while (n < buf.length) {
    const got = readSync(fd, buf, n, buf.length - n, n);
    if (got === 0) break;
    n += got;
  }
  const payloads: Buffer[] = [];
  for (let at = buf.indexOf(MAGIC); at >= 0 && at + HEADER <= n; ) {
    const size = buf.readUInt32LE(at + MAGIC.length);
    const end = at + HEADER + size;
    if (end <= n) {
      const payload = buf.subarray(at + HEADER, end);
      if (hash('sha256', payload, 'buffer').equals(buf.subarray(at + MAGIC.length + 4, at + HEADER))) {
        payloads.push(Buffer.from(payload));
        at = buf.indexOf(MAGIC, end);
        continue;
      }
    }
    // A frame cut by a later one (or by a crash): look for the next one after its magic.
    at = buf.indexOf(MAGIC, at + 1);
  }
  return payloads;
}
