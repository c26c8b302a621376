// Crash recovery from the write-ahead ring (audit/write-ahead-ring.ts): the records its frames hold
// that continue the log's chain past the log's last record. A record is taken only when it is the
// next link (`seq` one more, `prev` the hash of the line before), so frames of an older file, of an
// earlier lap or of records the log already has are never appended.

import { lineHash, type ChainHead } from './chain.ts';

/** The start every chained line has (audit/chain.ts writes v, seq and prev first). */
const LINK = /^\{"v":\d+,"seq":(\d+),"prev":"([0-9a-f]{64})"/;

/** The lines of `payloads` that continue the chain after `from`, in order (none when the log is whole). */
export function linesAfter(payloads: Buffer[], from: ChainHead): string[] {
  const bySeq = new Map<number, Array<{ prev: string; line: string }>>();
  for (const payload of payloads) {
    for (const line of payload.toString('utf8').split('\n')) {
      const m = LINK.exec(line);
      if (m === null) continue;
      const seq = Number(m[1]);
      if (seq <= from.seq) continue;
      const at = bySeq.get(seq);
      if (at === undefined) bySeq.set(seq, [{ prev: m[2]!, line }]);
      else at.push({ prev: m[2]!, line });
    }
  }
  const lines: string[] = [];
  let head = from;
  for (;;) {
    const next = bySeq.get(head.seq + 1)?.find((c) => c.prev === head.head);
    if (next === undefined) return lines;
    lines.push(next.line);
    head = { seq: head.seq + 1, head: lineHash(next.line) };
  }
}
