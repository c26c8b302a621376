import { describe, expect, it } from 'vitest';
import { MessageFramer, payloadInt16, readStartupPacket, StartupFramer, type Frame } from './framer.ts';
import { WireError } from './wire-error.ts';
import { encodeStartupMessage, encodeSslRequest } from './startup.ts';

function msg(type: string, body: Buffer | string): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body) : body;
  const out = Buffer.alloc(5 + b.length);
  out[0] = type.charCodeAt(0);
  out.writeInt32BE(4 + b.length, 1);
  b.copy(out, 5);
  return out;
}

const MESSAGES = [
  msg('Q', 'select 1\0'),
  msg('S', ''),
  msg('d', Buffer.alloc(300, 7)),
  msg('H', ''),
  msg('P', 'stmt\0select $1\0\0\0'),
];
const STREAM = Buffer.concat(MESSAGES);

function drainAll(f: MessageFramer): Frame[] {
  const out: Frame[] = [];
  for (let fr = f.next(); fr !== null; fr = f.next()) out.push(fr);
  return out;
}

// Cheap checks (Buffer.equals, not deep equality): the split tests run thousands of times.
function framesMatch(frames: Frame[]): boolean {
  if (frames.length !== MESSAGES.length) return false;
  return frames.every((f, i) => {
    const m = MESSAGES[i]!;
    return f.type === m[0] && f.raw.equals(m) && f.body.equals(m.subarray(5));
  });
}

function expectFrames(frames: Frame[]): void {
  expect(framesMatch(frames)).toBe(true);
}

describe('MessageFramer', () => {
  it('frames a stream pushed in one chunk without copying', () => {
    const f = new MessageFramer(1 << 20);
    f.push(STREAM);
    const frames = drainAll(f);
    expectFrames(frames);
    expect(frames[2]!.raw.buffer).toBe(STREAM.buffer);
    expect(frames[2]!.raw.byteOffset).toBe(STREAM.byteOffset + MESSAGES[0]!.length + MESSAGES[1]!.length);
    expect(f.buffered).toBe(0);
  });

  it('names the chunk an uncopied message is a view of, and where in it', () => {
    const f = new MessageFramer(1 << 20);
    const tail = STREAM.subarray(0, MESSAGES[0]!.length + 2); // the first message and 2 bytes of the next
    f.push(tail);
    f.push(STREAM.subarray(tail.length));
    const frames = drainAll(f);
    expect(frames[0]!.chunk).toBe(tail);
    expect(frames[0]!.at).toBe(0);
    expect(frames[1]!.chunk).toBeUndefined(); // spans two chunks: a copy
    for (const frame of frames) if (frame.chunk !== undefined) expect(frame.chunk.subarray(frame.at!, frame.at! + frame.raw.length).equals(frame.raw)).toBe(true);
  });

  it('tells the place and size in its chunk of a message inside one chunk, and makes its views only when read, once', () => {
    const f = new MessageFramer(1 << 20);
    f.push(STREAM);
    const frames = drainAll(f);
    let at = 0;
    frames.forEach((fr, i) => {
      expect(fr.chunk).toBe(STREAM);
      expect(fr.at).toBe(at);
      expect(fr.size).toBe(MESSAGES[i]!.length);
      at += MESSAGES[i]!.length;
    });
    // The views are made on first read: the frame holds none until then (no own raw/body property).
    expect(Object.keys(frames[2]!)).not.toContain('raw');
    expect(Object.values(frames[2]!).filter((v) => Buffer.isBuffer(v) && v !== STREAM)).toEqual([]);
    expect(frames[2]!.raw).toBe(frames[2]!.raw);
    expect(frames[2]!.body).toBe(frames[2]!.body);
    expect(frames[2]!.body.equals(MESSAGES[2]!.subarray(5))).toBe(true);
  });

  it('reads an int16 of the payload in place, as body.readInt16BE, and null past the payload', () => {
    const row = msg('D', Buffer.from([0x00, 0x03, 0xff, 0xfe]));
    const f = new MessageFramer(1 << 20);
    const chunk = Buffer.concat([msg('S', ''), row, msg('Z', 'I')]);
    f.push(chunk);
    const [empty, d, z] = drainAll(f);
    expect(payloadInt16(d!, 0)).toBe(3);
    expect(payloadInt16(d!, 2)).toBe(-2);
    expect(payloadInt16(d!, 3)).toBeNull();
    expect(payloadInt16(empty!, 0)).toBeNull();
    expect(payloadInt16(z!, 0)).toBeNull(); // one byte of payload, the next message's bytes are not read
    // A message copied from several chunks (no chunk of its own) reads the same from its body.
    const g = new MessageFramer(1 << 20);
    g.push(row.subarray(0, 6));
    g.push(row.subarray(6));
    const copied = g.next()!;
    expect(copied.chunk).toBeUndefined();
    expect(payloadInt16(copied, 0)).toBe(3);
    expect(payloadInt16(copied, 3)).toBeNull();
  });

  it('frames a stream split at every byte boundary', () => {
    for (let i = 0; i <= STREAM.length; i++) {
      const f = new MessageFramer(1 << 20);
      const frames: Frame[] = [];
      f.push(STREAM.subarray(0, i));
      frames.push(...drainAll(f));
      f.push(STREAM.subarray(i));
      frames.push(...drainAll(f));
      expectFrames(frames);
      expect(f.buffered).toBe(0);
    }
  });

  it('frames a stream split at every pair of byte boundaries', () => {
    for (let i = 0; i <= STREAM.length; i++) {
      for (let j = i; j <= STREAM.length; j++) {
        const f = new MessageFramer(1 << 20);
        const frames: Frame[] = [];
        for (const part of [STREAM.subarray(0, i), STREAM.subarray(i, j), STREAM.subarray(j)]) {
          f.push(part);
          frames.push(...drainAll(f));
        }
        if (!framesMatch(frames)) expect.fail(`split at ${i} and ${j} framed wrongly`);
      }
    }
  });

  it('frames a stream fed one byte at a time', () => {
    const f = new MessageFramer(1 << 20);
    const frames: Frame[] = [];
    for (let i = 0; i < STREAM.length; i++) {
      f.push(STREAM.subarray(i, i + 1));
      frames.push(...drainAll(f));
    }
    expectFrames(frames);
  });

  it('counts buffered bytes and drains the rest', () => {
    const f = new MessageFramer(1 << 20);
    f.push(STREAM.subarray(0, 12));
    f.push(STREAM.subarray(12, 20));
    expect(f.next()?.type).toBe(0x51);
    expect(f.buffered).toBe(20 - MESSAGES[0]!.length);
    expect(f.drain()).toEqual(STREAM.subarray(MESSAGES[0]!.length, 20));
    expect(f.buffered).toBe(0);
    expect(f.next()).toBeNull();
  });

  it('rejects a length below 4', () => {
    const f = new MessageFramer(1000);
    f.push(Buffer.from([0x51, 0, 0, 0, 3]));
    expect(() => f.next()).toThrow(WireError);
    const g = new MessageFramer(1000);
    g.push(Buffer.from([0x51, 0xff, 0xff, 0xff, 0xff]));
    expect(() => g.next()).toThrow(WireError);
  });

  it('rejects an oversized message as soon as its header arrives', () => {
    const f = new MessageFramer(1000);
    f.push(Buffer.from([0x64, 0, 0]));
    expect(f.next()).toBeNull();
    f.push(Buffer.from([0x03, 0xed])); // 1005
    expect(() => f.next()).toThrow(WireError);
    const g = new MessageFramer(1000);
    g.push(msg('d', Buffer.alloc(996)));
    expect(g.next()?.body.length).toBe(996); // length 1000 is allowed
  });

  it('reassembles a large message from many chunks', () => {
    const big = msg('d', Buffer.alloc(1_000_000, 1));
    const f = new MessageFramer(2_000_000);
    for (let i = 0; i < big.length; i += 65536) {
      f.push(big.subarray(i, i + 65536));
      if (i + 65536 < big.length) expect(f.next()).toBeNull();
    }
    const fr = f.next();
    expect(fr?.raw.equals(big)).toBe(true);
  });
});

describe('MessageFramer with truncate', () => {
  /** Keeps 16 bytes of a Query longer than 100 bytes; frames everything else whole. */
  const truncate = (type: number, length: number): number | null => (type === 0x51 && length > 100 ? 16 : null);
  const big = msg('Q', `SELECT '${'x'.repeat(1_000_000)}'\0`);
  const after = msg('Q', 'select 2\0');

  it('returns a cut message as soon as its head is here and never buffers the rest', () => {
    const f = new MessageFramer(2_000_000, { truncate });
    f.push(big.subarray(0, 65536));
    const fr = f.next();
    expect(fr?.truncated).toEqual({ length: big.length - 1 });
    expect(fr?.body.toString()).toBe(`SELECT '${'x'.repeat(8)}`);
    expect(f.buffered).toBe(0);
    for (let i = 65536; i < big.length; i += 65536) {
      f.push(big.subarray(i, i + 65536));
      expect(f.buffered).toBe(0);
      expect(f.next()).toBeNull();
    }
    f.push(after);
    expect(f.next()?.raw.equals(after)).toBe(true);
  });

  it('frames the message after a cut one intact, the stream split at every byte boundary', () => {
    const small = msg('Q', `SELECT '${'y'.repeat(120)}'\0`);
    const stream = Buffer.concat([msg('S', ''), small, after, small]);
    for (let cut = 0; cut <= stream.length; cut++) {
      const f = new MessageFramer(1000, { truncate });
      f.push(stream.subarray(0, cut));
      const frames = drainAll(f);
      f.push(stream.subarray(cut));
      frames.push(...drainAll(f));
      expect(frames.map((x) => [x.type, x.truncated?.length ?? null, x.body.length])).toEqual([
        [0x53, null, 0],
        [0x51, small.length - 1, 16],
        [0x51, null, after.length - 5],
        [0x51, small.length - 1, 16],
      ]);
      expect(f.buffered).toBe(0);
    }
  });

  it('frames a message whole when truncate keeps all of it', () => {
    const f = new MessageFramer(1000, { truncate: () => 1000 });
    f.push(after);
    const fr = f.next();
    expect(fr?.raw.equals(after)).toBe(true);
    expect(fr?.truncated).toBeUndefined();
  });
});

describe('readStartupPacket / StartupFramer', () => {
  const startup = encodeStartupMessage({ user: 'alice', database: 'db' });

  it('returns null until complete, then the body and the rest', () => {
    for (let i = 0; i < startup.length; i++) expect(readStartupPacket(startup.subarray(0, i))).toBeNull();
    const extra = Buffer.from('Qxyz');
    const r = readStartupPacket(Buffer.concat([startup, extra]));
    expect(r?.packet).toEqual(startup.subarray(4));
    expect(r?.rest).toEqual(extra);
  });

  it('rejects lengths outside 8..10000', () => {
    for (const len of [0, 7, 10001, -1]) {
      const b = Buffer.alloc(8);
      b.writeInt32BE(len, 0);
      expect(() => readStartupPacket(b)).toThrow(WireError);
    }
  });

  it('streams packets split at every boundary', () => {
    const stream = Buffer.concat([encodeSslRequest(), startup, Buffer.from([0x51])]);
    for (let i = 0; i <= stream.length; i++) {
      const f = new StartupFramer();
      const got: Buffer[] = [];
      f.push(stream.subarray(0, i));
      for (let p = f.next(); p !== null; p = f.next()) got.push(p);
      if (got.length < 2) {
        f.push(stream.subarray(i, stream.length - 1));
        for (let p = f.next(); p !== null; p = f.next()) got.push(p);
        f.push(stream.subarray(stream.length - 1));
      } else {
        f.push(stream.subarray(i));
      }
      expect(got).toEqual([encodeSslRequest().subarray(4), startup.subarray(4)]);
      expect(f.drain()).toEqual(Buffer.from([0x51]));
    }
  });

  it('refuses to accumulate an oversized startup packet', () => {
    const f = new StartupFramer();
    const b = Buffer.alloc(4);
    b.writeInt32BE(1 << 20, 0);
    expect(() => f.push(b)).toThrow(WireError);
  });
});
