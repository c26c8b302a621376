// Keeps values (PHI) out of the audit log: every literal in recorded statement text becomes a $n
// placeholder by PostgreSQL's own normalization (pg_stat_statements' algorithm, through
// libpg-query), so the text keeps the shape its fingerprint names; a statement that could not be
// parsed is not recorded at all, and quoted values in error messages are blanked.

import { normalizeSync } from 'libpg-query';
import { lineHash } from './chain.ts';
import type { AuditRecord } from './types.ts';

/** Normalized texts by original text: a prepared statement executed many times is normalized once. */
const cache = new Map<string, string>();
const CACHE_LIMIT = 2048;

/** `text` with each literal replaced by $n; `parsed`: PostgreSQL's parser accepted it. */
export function redactStatementText(text: string, parsed: boolean): string {
  if (!parsed) return unparsedPlaceholder(text);
  const hit = cache.get(text);
  if (hit !== undefined) return hit;
  let normalized: string;
  try {
    normalized = normalizeSync(text);
  } catch {
    normalized = unparsedPlaceholder(text);
  }
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(text, normalized);
  return normalized;
}

/** Stands in for text the parser rejected: its literals cannot be told apart, so none of it is kept. */
function unparsedPlaceholder(text: string): string {
  return `<unparsed statement: ${Buffer.byteLength(text)} bytes, sha256 ${lineHash(text).slice(0, 16)}>`;
}

/** Replaces every double-quoted part of a message (values and names alike) with "?". */
export function redactMessage(message: string): string {
  return message.replace(/"(?:[^"]|"")*"/g, '"?"');
}

/** The record as it may be written: statement text normalized, quoted values out of messages. */
export function redactRecord(record: AuditRecord): AuditRecord {
  switch (record.type) {
    case 'statement': {
      const parsed = record.fingerprint !== '';
      const statement = redactStatementText(record.statement, parsed);
      return {
        ...record,
        statement,
        ...(record.forwarded !== undefined ? { forwarded: redactStatementText(record.forwarded, true) } : {}),
        input: record.input === null ? null : { ...record.input, statement: { ...record.input.statement, text: statement } },
        reason: parsed ? record.reason : redactMessage(record.reason),
      };
    }
    case 'outcome':
      return record.outcome.status === 'error' ? { ...record, outcome: { ...record.outcome, message: redactMessage(record.outcome.message) } } : record;
    case 'session':
    case 'policy':
    case 'checkpoint':
    case 'sink':
    case 'approval': // fingerprint and people's own words, never statement text
      return record;
    default: {
      const never: never = record;
      throw new Error(`unknown audit record ${JSON.stringify(never)}`);
    }
  }
}
