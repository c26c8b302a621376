// Decision ids: random (version 4) UUIDs, as crypto.randomUUID() makes them, made a batch at a time.
// randomUUID() refills its cache of 128 ids with one randomFillSync of 2 KiB, which costs about as much
// as a fill of 16 KiB (8 µs at load, most of it fixed), and joins each id from twenty strings: together
// about 80 ns of every decision. Here one fill gives 1,024 ids, written as text into one buffer and read
// as strings of IDS_PER_STRING ids; an id is a slice of one (V8 keeps that 2.3 KiB string alive while the
// id lives: a decision kept by a prepared statement or an approval holds at most that, not the whole
// fill's 36 KiB). Every byte still comes from the CSPRNG, and is used once.

import { randomFillSync } from 'node:crypto';

/** Ids made from one fill of random bytes. */
export const DECISION_IDS_PER_FILL = 1024;

const ID_CHARS = 36;
/** Ids per string read from the text buffer (what one live id can keep alive: 64 × 36 bytes). */
const IDS_PER_STRING = 64;
const random = Buffer.allocUnsafeSlow(16 * DECISION_IDS_PER_FILL);
const text = Buffer.allocUnsafeSlow(ID_CHARS * DECISION_IDS_PER_FILL);
/** The current string's ids, one after the other; the next one's index in the fill and in the string. */
let ids = '';
let next = DECISION_IDS_PER_FILL;
let inString = IDS_PER_STRING;

/** The two lower-case hex digits (character codes) of each byte value, at 2 * byte. */
const HEX = new Uint8Array(512);
for (let b = 0; b < 256; b++) {
  const digits = b.toString(16).padStart(2, '0');
  HEX[2 * b] = digits.charCodeAt(0);
  HEX[2 * b + 1] = digits.charCodeAt(1);
}

/** A new random UUID (RFC 9562 version 4, variant 10xx), lower-case with dashes. */
export function decisionId(): string {
  if (next === DECISION_IDS_PER_FILL) refill();
  if (inString === IDS_PER_STRING) {
    ids = text.toString('latin1', ID_CHARS * next, ID_CHARS * (next + IDS_PER_STRING));
    inString = 0;
  }
  next++;
  const at = ID_CHARS * inString++;
  return ids.slice(at, at + ID_CHARS);
}

function refill(): void {
  randomFillSync(random);
  let o = 0;
  for (let r = 0; r < random.length; r += 16) {
    for (let j = 0; j < 16; j++) {
      // Dashes before bytes 4, 6, 8 and 10: 8-4-4-4-12 digits.
      if (j === 4 || j === 6 || j === 8 || j === 10) text[o++] = 0x2d;
      let b = random[r + j]!;
      if (j === 6) b = (b & 0x0f) | 0x40; // version 4
      else if (j === 8) b = (b & 0x3f) | 0x80; // variant 10xx
      text[o++] = HEX[2 * b]!;
      text[o++] = HEX[2 * b + 1]!;
    }
  }
  next = 0;
  inString = IDS_PER_STRING;
}
