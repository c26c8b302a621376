// Test-only helpers for the wire layer: turning an encoded message into a Frame, and fuzzing decoders.

import { expect } from 'vitest';
import type { Frame } from './framer.ts';
import { WireError } from './wire-error.ts';

/** The Frame a MessageFramer would produce for one encoded message (checks its length field). */
export function frameOf(raw: Buffer): Frame {
  expect(raw.readInt32BE(1)).toBe(raw.length - 1);
  return { type: raw[0]!, body: raw.subarray(5), raw };
}

/** Calls decode on every strict prefix of body: each must throw WireError (or be accepted by `allow`). */
export function expectTruncationsRejected(body: Buffer, decode: (b: Buffer) => unknown): void {
  for (let n = 0; n < body.length; n++) {
    let threw: unknown = null;
    try {
      decode(body.subarray(0, n));
    } catch (e) {
      threw = e;
    }
    if (!(threw instanceof WireError)) {
      expect.fail(`prefix of ${n}/${body.length} bytes gave ${threw === null ? 'no error' : String(threw)}`);
    }
  }
}

/** Feeds random bodies to decode: it may return or throw WireError, nothing else. */
export function expectGarbageSafe(decode: (b: Buffer) => unknown, rounds = 2000, seed = 1): void {
  let s = seed;
  const rand = (): number => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s;
  };
  for (let i = 0; i < rounds; i++) {
    const b = Buffer.alloc(rand() % 48);
    for (let j = 0; j < b.length; j++) b[j] = rand() % 4 === 0 ? 0 : rand() & 0xff;
    try {
      decode(b);
    } catch (e) {
      if (!(e instanceof WireError)) expect.fail(`${b.toString('hex')} threw ${String(e)}`);
    }
  }
}
