import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { GATHER_COPY_BYTES, MAX_GATHER_PIECES, OutputBatch } from './output-batch.ts';

/** A writable that records each call that reaches it: one entry per write(2)-like hand-over. */
class RecordingSink extends Writable {
  readonly calls: Buffer[][] = [];
  constructor(highWaterMark = 16 * 1024) {
    super({ highWaterMark });
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, done: (e?: Error | null) => void): void {
    this.calls.push([chunk]);
    done();
  }
  override _writev(chunks: { chunk: Buffer }[], done: (e?: Error | null) => void): void {
    this.calls.push(chunks.map((c) => c.chunk));
    done();
  }
  bytes(): Buffer {
    return Buffer.concat(this.calls.flat());
  }
}

/** Consecutive messages inside one received chunk, as the framer hands them out (views, no copies). */
function messagesOf(chunk: Buffer, sizes: number[]): Array<{ raw: Buffer; at: number }> {
  const out: Array<{ raw: Buffer; at: number }> = [];
  let at = 0;
  for (const n of sizes) {
    out.push({ raw: chunk.subarray(at, at + n), at });
    at += n;
  }
  return out;
}

describe('OutputBatch', () => {
  it('joins consecutive views of one chunk into one view of it, without copying', () => {
    const chunk = Buffer.from('0123456789abcdefghij');
    const batch = new OutputBatch();
    for (const m of messagesOf(chunk, [3, 7, 10])) batch.pushSlice(chunk, m.at, m.raw.length);
    expect(batch.length).toBe(20);
    const pieces = batch.take();
    expect(pieces).toHaveLength(1);
    expect(pieces[0]!.buffer).toBe(chunk.buffer);
    expect(pieces[0]!.byteOffset).toBe(chunk.byteOffset);
    expect(pieces[0]!.toString()).toBe(chunk.toString());
    expect(batch.isEmpty).toBe(true);
  });

  it('hands a whole chunk relayed as it came over as that chunk: no view is made of it', () => {
    const chunk = Buffer.from('0123456789abcdefghij').subarray(2); // a chunk that is itself a view
    const batch = new OutputBatch();
    for (const m of messagesOf(chunk, [3, 7, 8])) batch.pushSlice(chunk, m.at, m.raw.length);
    expect(batch.take()[0]).toBe(chunk);
    batch.pushSlice(chunk, 0, 10);
    const part = batch.take()[0]!;
    expect(part).not.toBe(chunk);
    expect(part.toString()).toBe('23456789ab');
  });

  it('keeps a rewritten message between unchanged ones in order, as its own piece', () => {
    const chunk = Buffer.from('AAAABBBBCCCC');
    const [a, b, c] = messagesOf(chunk, [4, 4, 4]);
    const rewritten = Buffer.from('xyz');
    const batch = new OutputBatch();
    batch.pushSlice(chunk, a!.at, a!.raw.length);
    batch.push(rewritten);
    batch.pushSlice(chunk, b!.at, b!.raw.length);
    batch.pushSlice(chunk, c!.at, c!.raw.length);
    const pieces = batch.take();
    expect(pieces.map((p) => p.toString())).toEqual(['AAAA', 'xyz', 'BBBBCCCC']);
  });

  it('does not join views of one chunk that are not consecutive (a message left out)', () => {
    const chunk = Buffer.from('AAAABBBBCCCC');
    const [a, , c] = messagesOf(chunk, [4, 4, 4]);
    const batch = new OutputBatch();
    batch.pushSlice(chunk, a!.at, a!.raw.length);
    batch.pushSlice(chunk, c!.at, c!.raw.length);
    expect(batch.take().map((p) => p.toString())).toEqual(['AAAA', 'CCCC']);
  });

  it('does not join slices of different chunks, even at matching offsets', () => {
    const one = Buffer.from('AAAA');
    const two = Buffer.from('BBBBCCCC');
    const batch = new OutputBatch();
    batch.pushSlice(one, 0, one.length);
    batch.pushSlice(two, 4, two.length - 4);
    expect(batch.take().map((p) => p.toString())).toEqual(['AAAA', 'CCCC']);
  });

  it('hands one piece over in one write', () => {
    const sink = new RecordingSink();
    const batch = new OutputBatch();
    const chunk = Buffer.from('hello world');
    for (const m of messagesOf(chunk, [5, 6])) batch.pushSlice(chunk, m.at, m.raw.length);
    expect(batch.writeTo(sink)).toBe(true);
    expect(sink.calls).toHaveLength(1);
    expect(sink.bytes().toString()).toBe('hello world');
  });

  it('copies a few small pieces into one write', () => {
    const sink = new RecordingSink();
    const batch = new OutputBatch();
    batch.push(Buffer.from('one,'));
    batch.push(Buffer.from('two,'));
    batch.push(Buffer.from('three'));
    batch.writeTo(sink);
    expect(sink.calls).toEqual([[Buffer.from('one,two,three')]]);
  });

  it('hands large pieces over in one gathered write, uncopied', () => {
    const sink = new RecordingSink(1 << 20);
    const big = [Buffer.alloc(GATHER_COPY_BYTES, 1), Buffer.alloc(10, 2), Buffer.alloc(GATHER_COPY_BYTES, 3)];
    const batch = new OutputBatch();
    for (const b of big) batch.push(b);
    batch.writeTo(sink);
    expect(sink.calls).toHaveLength(1);
    expect(sink.calls[0]).toHaveLength(3);
    expect(sink.calls[0]![0]).toBe(big[0]);
    expect(sink.bytes()).toEqual(Buffer.concat(big));
  });

  it('copies many pieces into one write, whatever their size', () => {
    const sink = new RecordingSink(1 << 20);
    const many = Array.from({ length: MAX_GATHER_PIECES + 1 }, (_, i) => Buffer.alloc(GATHER_COPY_BYTES / 8, i));
    const batch = new OutputBatch();
    for (const b of many) batch.push(b);
    batch.writeTo(sink);
    expect(sink.calls).toHaveLength(1);
    expect(sink.calls[0]).toHaveLength(1);
    expect(sink.bytes()).toEqual(Buffer.concat(many));
  });

  it('says when the socket is over its high-water mark, so the session pauses its source', () => {
    const sink = new RecordingSink(8);
    sink.cork(); // nothing reaches the sink: everything stays buffered
    const batch = new OutputBatch();
    batch.push(Buffer.alloc(GATHER_COPY_BYTES + 1));
    batch.push(Buffer.alloc(3));
    expect(batch.writeTo(sink)).toBe(false);
  });

  it('writes nothing when nothing was queued, and forgets what was cleared', () => {
    const sink = new RecordingSink();
    const batch = new OutputBatch();
    expect(batch.writeTo(sink)).toBe(true);
    batch.push(Buffer.from('dropped'));
    batch.clear();
    batch.push(Buffer.alloc(0));
    expect(batch.isEmpty).toBe(true);
    batch.writeTo(sink);
    expect(sink.calls).toHaveLength(0);
  });
});
