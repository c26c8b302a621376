// Crash recovery from the write-ahead ring (audit/write-ahead-ring.ts): the records its frames hold
// that continue the log's chain past the log's last record. A record is taken only when it is the
// next link (`seq` one more, `prev` the hash of the line before), so frames of an older file, of an
// earlier lap or of records the log already has are never appended.

import type { AppendFile } from './append-file.ts';
import { lineHash, type ChainHead } from './chain.ts';
import { GatehouseError } from '../errors.ts';
import { readRingFile, ringPath } from './write-ahead-ring.ts';

/**
 * Appends to the just opened `file`, whose chain stands at `chain`, the records its write-ahead ring
 * holds past it, and flushes them, before anything else is written; returns where the chain stands
 * then. `ringed`: the file has a ring (else a ring left beside it by a run that had one is read:
 * audit.ring_bytes turned off after a crash). Throws AUDIT_WRITE_FAILED (the file closed) when they
 * cannot be appended.
 */
export function recoverFromRing(file: AppendFile, chain: ChainHead, ringed: boolean, tell: (level: 'info', message: string) => void): ChainHead {
  const missing = linesAfter(ringed ? file.ringPayloads() : readRingFile(ringPath(file.path)), chain);
  if (missing.length === 0) return chain;
  try {
    file.appendFlushed(Buffer.from(`${missing.join('\n')}\n`, 'utf8'));
  } catch (cause) {
    file.close();
    throw new GatehouseError('AUDIT_WRITE_FAILED', `cannot append the ${missing.length} records recovered from the write-ahead ring to ${file.path}: ${(cause as Error).message}`, { cause });
  }
  tell('info', `audit log ${file.path} ended at seq ${chain.seq}; ${missing.length} records after it were recovered from its write-ahead ring and appended`);
  return { seq: chain.seq + missing.length, head: lineHash(missing.at(-1)!) };
}

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
