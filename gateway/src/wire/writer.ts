// Building one protocol message into a single buffer, with its type byte and length filled in.

import { WireError } from './wire-error.ts';

/** Accumulates a message body after an optional type byte, then patches the int32 length. */
export class MessageWriter {
  private buf: Buffer;
  private pos: number;
  private readonly start: number;

  /** `type` is the message type byte, or null for untyped startup-phase packets. */
  constructor(type: number | null, sizeHint = 64) {
    this.buf = Buffer.allocUnsafe(Math.max(sizeHint, 16) + 5);
    if (type === null) {
      this.start = 0;
    } else {
      this.buf[0] = type;
      this.start = 1;
    }
    this.pos = this.start + 4;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  byte(v: number): this {
    this.ensure(1);
    this.buf[this.pos++] = v;
    return this;
  }

  int16(v: number): this {
    this.ensure(2);
    this.buf.writeInt16BE(v, this.pos);
    this.pos += 2;
    return this;
  }

  int32(v: number): this {
    this.ensure(4);
    this.buf.writeInt32BE(v, this.pos);
    this.pos += 4;
    return this;
  }

  uint32(v: number): this {
    this.ensure(4);
    this.buf.writeUInt32BE(v, this.pos);
    this.pos += 4;
    return this;
  }

  /** A UTF-8 string followed by NUL. A NUL inside would shift every later field: refused. */
  cstring(s: string): this {
    if (s.includes('\0')) throw new WireError('string field contains a NUL byte');
    const n = Buffer.byteLength(s, 'utf8');
    this.ensure(n + 1);
    this.buf.write(s, this.pos, 'utf8');
    this.pos += n;
    this.buf[this.pos++] = 0;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  /** The finished message; its length field counts itself and the body, not the type byte. */
  finish(): Buffer {
    this.buf.writeInt32BE(this.pos - this.start, this.start);
    return this.buf.subarray(0, this.pos);
  }
}

/** A typed message with an empty body (5 bytes), e.g. Sync or ParseComplete. */
export function emptyMessage(type: number): Buffer {
  const b = Buffer.allocUnsafe(5);
  b[0] = type;
  b.writeInt32BE(4, 1);
  return b;
}
