// The hash chain that links audit records: each line carries its sequence number and the SHA-256
// of the previous line's exact bytes, so an edited, removed, inserted or reordered line breaks it.

import { hash } from 'node:crypto';
import { recordBody } from './record-json.ts';
import type { AuditRecord } from './types.ts';

/** `prev` of the very first record of a log. */
export const GENESIS = '0'.repeat(64);

/** Where the chain stands: the last record's number and the hash of its line. */
export interface ChainHead {
  seq: number;
  head: string;
}

export const EMPTY_CHAIN: ChainHead = { seq: 0, head: GENESIS };

/** SHA-256 (hex) of one line of the log, without its newline (one-shot: no Hash object per line). */
export function lineHash(line: string | Buffer): string {
  return hash('sha256', line, 'hex');
}

/**
 * The line for `record` as the next link after `at` (v, seq and prev first), and the new head: the
 * bytes of JSON.stringify({ v, seq, prev, ...rest }), made without copying the record (a copy made
 * by rest and spread is serialized several times slower than the record itself).
 */
export function chainLine(record: AuditRecord, at: ChainHead): { line: string; next: ChainHead } {
  return chainPrepared(prepareRecord(record), at);
}

/** The chain position a line records (for continuing a log), or null when it is not a chained record. */
export function headOfLine(line: string): ChainHead | null {
  try {
    const parsed = JSON.parse(line) as { seq?: unknown };
    return typeof parsed.seq === 'number' ? { seq: parsed.seq, head: lineHash(line) } : null;
  } catch {
    return null;
  }
}

/** A record serialized ahead of its link (audit/postgres-sink.ts): its JSON without `v`. */
export interface PreparedRecord {
  v: number;
  /** JSON.stringify of the record without `v`. */
  body: string;
}

export function prepareRecord(record: AuditRecord): PreparedRecord {
  return { v: record.v, body: recordBody(record) };
}

/** The same line chainLine() makes for the record `prepared` came from, linked after `at`. */
export function chainPrepared(prepared: PreparedRecord, at: ChainHead): { line: string; next: ChainHead } {
  const seq = at.seq + 1;
  const line = `{"v":${prepared.v},"seq":${seq},"prev":${JSON.stringify(at.head)}${prepared.body.length > 2 ? `,${prepared.body.slice(1)}` : '}'}`;
  return { line, next: { seq, head: lineHash(line) } };
}
