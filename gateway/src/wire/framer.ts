// Splitting a byte stream into whole protocol messages: typed v3 messages and untyped startup packets.

import { WireError } from './wire-error.ts';

/**
 * One typed message. `body` and `raw` are views into received memory: no copy was made. For a
 * message inside one received chunk they are made only when read (ChunkFrame): a message relayed
 * unchanged needs neither, only its place in the chunk.
 */
export interface Frame {
  /** The type byte as a char code, e.g. 0x51 for Query. */
  readonly type: number;
  /** The payload after the 5-byte header. */
  readonly body: Buffer;
  /** The whole message (type byte, int32 length, payload), for byte-for-byte forwarding. */
  readonly raw: Buffer;
  /**
   * Set when the message was cut (FramerOptions.truncate): `body` and `raw` hold only its first
   * bytes, the rest is discarded as it arrives and never buffered; `length` is the header's length.
   */
  readonly truncated?: { length: number };
  /**
   * When the message lies inside one received chunk: that chunk, the message's offset in it and its
   * size (type byte included). Consecutive messages forwarded unchanged can then be written as one
   * view of the chunk (pg/output-batch.ts), and read in place (payloadInt16).
   */
  readonly chunk?: Buffer;
  readonly at?: number;
  readonly size?: number;
}

/** A message inside one received chunk; its views are made on first use and kept. */
class ChunkFrame implements Frame {
  private rawView: Buffer | undefined = undefined;
  private bodyView: Buffer | undefined = undefined;

  constructor(
    readonly type: number,
    readonly chunk: Buffer,
    readonly at: number,
    readonly size: number,
  ) {}

  get raw(): Buffer {
    return (this.rawView ??= this.chunk.subarray(this.at, this.at + this.size));
  }

  get body(): Buffer {
    return (this.bodyView ??= this.chunk.subarray(this.at + HEADER, this.at + this.size));
  }
}

/**
 * The big-endian int16 at `offset` in a frame's payload, or null when the payload ends before it:
 * read in place in the received chunk when there is one (no view made), as `body.readInt16BE`.
 */
export function payloadInt16(frame: Frame, offset: number): number | null {
  if (frame.chunk !== undefined && frame.at !== undefined && frame.size !== undefined) {
    return frame.size - HEADER >= offset + 2 ? frame.chunk.readInt16BE(frame.at + HEADER + offset) : null;
  }
  const body = frame.body;
  return body.length >= offset + 2 ? body.readInt16BE(offset) : null;
}

export interface FramerOptions {
  /**
   * Asked for every message header: a number of bytes to keep of a message that will be refused
   * whatever it says (e.g. a Query over the statement size limit), or null to frame it whole. A cut
   * message is returned as soon as its header and kept bytes are here.
   */
  truncate?: (type: number, length: number) => number | null;
}

const HEADER = 5; // type byte + int32 length

/**
 * Buffers chunks and hands out whole messages. A message inside one chunk is returned as a
 * subarray of it; only a message spanning chunks is copied, once, when it is complete.
 */
export class MessageFramer {
  private chunks: Buffer[] = [];
  /** Read offset into chunks[0]. */
  private offset = 0;
  private total = 0;
  /** Bytes of a cut message still to come, discarded as they arrive. */
  private discarding = 0;

  constructor(
    private readonly maxMessageBytes: number,
    private readonly options: FramerOptions = {},
  ) {}

  /** Bytes received and not yet returned as frames. */
  get buffered(): number {
    return this.total;
  }

  push(chunk: Buffer): void {
    if (this.discarding > 0) {
      const dropped = Math.min(this.discarding, chunk.length);
      this.discarding -= dropped;
      chunk = chunk.subarray(dropped);
    }
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.total += chunk.length;
  }

  /** The next whole message, or null until more bytes arrive. Throws WireError on a bad length. */
  next(): Frame | null {
    if (this.total < HEADER) return null;
    const first = this.chunks[0]!;
    let type: number;
    let length: number;
    if (first.length - this.offset >= HEADER) {
      type = first[this.offset]!;
      length = first.readInt32BE(this.offset + 1);
    } else {
      const head = this.peek(HEADER);
      type = head[0]!;
      length = head.readInt32BE(1);
    }
    // Checked as soon as the header is here, so an oversized message is refused before it is buffered.
    if (length < 4) throw new WireError(`message length ${length} is below the minimum of 4`);
    if (length > this.maxMessageBytes) {
      throw new WireError(`message length ${length} exceeds the limit of ${this.maxMessageBytes} bytes`);
    }
    const keep = this.options.truncate?.(type, length) ?? null;
    if (keep !== null && keep < length - 4) return this.cut(type, length, keep);
    const size = length + 1;
    if (this.total < size) return null;
    if (first.length - this.offset >= size) {
      const at = this.offset;
      this.offset += size;
      this.total -= size;
      if (this.offset === first.length) {
        this.chunks.shift();
        this.offset = 0;
      }
      return new ChunkFrame(type, first, at, size);
    }
    const raw = this.take(size);
    return { type, body: raw.subarray(HEADER), raw };
  }

  /** The header and first `keep` payload bytes of a message, once here; the rest is discarded, buffered or to come. */
  private cut(type: number, length: number, keep: number): Frame | null {
    const head = HEADER + keep;
    if (this.total < head) return null;
    const raw = Buffer.from(this.take(head)); // a copy: the chunk it came from is not kept alive
    const rest = length + 1 - head;
    const buffered = Math.min(rest, this.total);
    if (buffered > 0) this.take(buffered);
    this.discarding = rest - buffered;
    return { type, body: raw.subarray(HEADER), raw, truncated: { length } };
  }

  /** Removes and returns every buffered byte (e.g. to hand the rest of a stream to another reader). */
  drain(): Buffer {
    const out = this.total === 0 ? Buffer.alloc(0) : this.take(this.total);
    this.chunks = [];
    this.offset = 0;
    this.total = 0;
    return out;
  }

  /** Copies the first n buffered bytes without consuming them (n ≤ total). */
  private peek(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let copied = 0;
    let off = this.offset;
    for (const c of this.chunks) {
      copied += c.copy(out, copied, off, Math.min(c.length, off + n - copied));
      off = 0;
      if (copied === n) break;
    }
    return out;
  }

  /** Consumes the first n buffered bytes (n ≤ total) into one buffer, copying only if they span chunks. */
  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length - this.offset === n) {
      const out = this.offset === 0 ? first : first.subarray(this.offset);
      this.chunks.shift();
      this.offset = 0;
      this.total -= n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let copied = 0;
    let i = 0;
    let off = this.offset;
    while (copied < n) {
      const c = this.chunks[i]!;
      const want = Math.min(c.length - off, n - copied);
      c.copy(out, copied, off, off + want);
      copied += want;
      off += want;
      if (off === c.length) {
        i++;
        off = 0;
      }
    }
    // One splice for all consumed chunks: a large message may span thousands of them.
    if (i > 0) this.chunks.splice(0, i);
    this.offset = off;
    this.total -= n;
    return out;
  }
}

/** PostgreSQL's own limit on startup-phase packets (MAX_STARTUP_PACKET_LENGTH). */
export const MAX_STARTUP_PACKET_BYTES = 10000;

/**
 * Reads one untyped startup-phase packet (int32 length including itself, then body) from the
 * front of `buf`. Returns null if it is not complete yet; throws WireError on a bad length.
 */
export function readStartupPacket(buf: Buffer): { packet: Buffer; rest: Buffer } | null {
  if (buf.length < 4) return null;
  const length = buf.readInt32BE(0);
  if (length < 8 || length > MAX_STARTUP_PACKET_BYTES) {
    throw new WireError(`startup packet length ${length} is outside 8..${MAX_STARTUP_PACKET_BYTES}`);
  }
  if (buf.length < length) return null;
  return { packet: buf.subarray(4, length), rest: buf.subarray(length) };
}

/** Streaming form of readStartupPacket: push chunks, take packets, then hand `drain()` to a MessageFramer. */
export class StartupFramer {
  private buf: Buffer = Buffer.alloc(0);

  get buffered(): number {
    return this.buf.length;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    // A startup packet is small: refuse to accumulate more than one can hold plus its header.
    if (this.buf.length >= 4) {
      const length = this.buf.readInt32BE(0);
      if (length < 8 || length > MAX_STARTUP_PACKET_BYTES) {
        throw new WireError(`startup packet length ${length} is outside 8..${MAX_STARTUP_PACKET_BYTES}`);
      }
    }
  }

  /** The body of the next startup packet (after its length), or null until it is complete. */
  next(): Buffer | null {
    const r = readStartupPacket(this.buf);
    if (r === null) return null;
    this.buf = r.rest;
    return r.packet;
  }

  /** Removes and returns the buffered bytes that follow the packets taken so far. */
  drain(): Buffer {
    const out = this.buf;
    this.buf = Buffer.alloc(0);
    return out;
  }
}
