// Edits a query string at the parser's byte offsets (libpg-query counts UTF-8 bytes, not characters).
import { Buffer } from 'node:buffer';

/** Bytes `start` to `end` of the query string replaced by `text` (start = end: an insertion). */
export interface ByteSplice {
  start: number;
  end: number;
  text: string;
}

/** `query` with every splice made, or null when two of them overlap. */
export function spliceBytes(query: string, splices: readonly ByteSplice[]): string | null {
  const bytes = Buffer.from(query, 'utf8');
  const parts: Buffer[] = [];
  let at = 0;
  for (const sp of [...splices].sort((a, b) => a.start - b.start)) {
    if (sp.start < at) return null;
    parts.push(bytes.subarray(at, sp.start), Buffer.from(sp.text, 'utf8'));
    at = sp.end;
  }
  parts.push(bytes.subarray(at));
  return Buffer.concat(parts).toString('utf8');
}
