// Splits a query string into its statements (parse trees and texts) using the parser's byte offsets.
import { Buffer } from 'node:buffer';
import { parseSync } from 'libpg-query';

/** A raw statement from libpg-query's parse result. */
export interface RawStatement {
  stmt?: unknown;
  /** Byte offset of the statement in the query string; absent for 0. */
  stmt_location?: number;
  /** Length in bytes, excluding the `;`; absent or 0 for "to the end of the string". */
  stmt_len?: number;
}

/** The statements libpg-query reads in `query`, each with its tree (empty ones left out); throws what the parser throws. */
export function parsedStatements(query: string): RawStatement[] {
  return ((parseSync(query) as { stmts?: RawStatement[] }).stmts ?? []).filter((s) => s.stmt !== undefined);
}

/**
 * The text of each statement exactly as the client wrote it, trimmed. libpg-query reports
 * offsets in UTF-8 bytes, so non-ASCII strings are sliced as bytes.
 */
export function statementTexts(query: string, stmts: readonly RawStatement[]): string[] {
  const ascii = Buffer.byteLength(query, 'utf8') === query.length;
  const bytes = ascii ? null : Buffer.from(query, 'utf8');
  const total = ascii ? query.length : (bytes?.length ?? 0);
  return stmts.map((s) => {
    const start = s.stmt_location ?? 0;
    const end = s.stmt_len === undefined || s.stmt_len === 0 ? total : start + s.stmt_len;
    const text = bytes === null ? query.slice(start, end) : bytes.toString('utf8', start, end);
    return text.trim();
  });
}
