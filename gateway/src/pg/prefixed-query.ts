// A simple Query forwarded with its lock prefix (enforce/lock-prefix.ts): the prefix's UTF-8 made once
// per prefix (prefixes are kept per statement shape and catalog), then the client's own bytes as
// received, instead of the whole string concatenated and encoded again for every statement.

import type { LockPrefix } from '../enforce/lock-prefix.ts';
import { WireError } from '../wire/wire-error.ts';

const encoded = new WeakMap<LockPrefix, Buffer>();

/** `raw`: the client's whole Query message (type, length, the text and its NUL), which was decided. */
export function prefixedQuery(prefix: LockPrefix, raw: Buffer): Buffer {
  let head = encoded.get(prefix);
  if (head === undefined) {
    head = Buffer.from(prefix.text, 'utf8');
    // As MessageWriter.cstring: a NUL would end the query string early (names cannot hold one).
    if (head.includes(0)) throw new WireError('a lock prefix holds a NUL byte');
    encoded.set(prefix, head);
  }
  const body = raw.length - 5;
  const out = Buffer.allocUnsafe(5 + head.length + body);
  out[0] = raw[0]!;
  out.writeInt32BE(4 + head.length + body, 1);
  head.copy(out, 5);
  raw.copy(out, 5 + head.length, 5);
  return out;
}
