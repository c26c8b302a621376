// Bounded work per client message: a Query string or Parse statement is refused (54000) before it
// is parsed or decided (and, when its length header already says so, before it is buffered) when it
// is larger than `limits.max_statement_bytes`, or when it holds more
// statements than `limits.max_statements_per_query`. Parsing and deciding run on the one event loop
// every session shares, so without these one message could stall all of them.

import { GatehouseError } from '../errors.ts';
import { countStatements } from '../sql/statement-count.ts';
import type { Frame } from '../wire/framer.ts';
import { FE } from '../wire/message-types.ts';
import { WireError } from '../wire/wire-error.ts';

export interface StatementLimits {
  maxStatementsPerQuery: number;
  maxStatementBytes: number;
}

/** The audit record keeps this much of a refused text (it is refused for being too large). */
const AUDITED_PREFIX_CHARS = 1024;

/** Bytes of a Query's text (or a Parse's name and text) kept when the message is refused for its size (for the audit record's prefix). */
export const OVERSIZED_QUERY_KEPT_BYTES = 4 * AUDITED_PREFIX_CHARS;

/** The most a Parse message holds after its SQL text: the text's NUL, the parameter count and 65,535 parameter type OIDs. */
const PARSE_TAIL_MAX_BYTES = 1 + 2 + 4 * 65_535;

/**
 * Bytes to keep of a client message refused for its size whatever it says (wire/framer.ts
 * FramerOptions.truncate): a Query (type byte, int32 length, text, NUL) whose text is over the limit,
 * and a Parse (name, text, parameter types) whose text is over it whatever its name (if within the
 * bytes kept) and parameter types. The first bytes are enough to refuse and audit it; the rest is
 * discarded unread.
 */
export function oversizedTextKeep(limits: StatementLimits): (type: number, length: number) => number | null {
  return (type, length) => {
    const payload = length - 4;
    if (type === FE.Query) return payload - 1 > limits.maxStatementBytes ? OVERSIZED_QUERY_KEPT_BYTES : null;
    if (type === FE.Parse) return payload - OVERSIZED_QUERY_KEPT_BYTES - PARSE_TAIL_MAX_BYTES > limits.maxStatementBytes ? OVERSIZED_QUERY_KEPT_BYTES : null;
    return null;
  };
}

/** A Query or Parse cut by the framer (oversizedTextKeep): the refusal, the text's first bytes, and a Parse's statement name. */
export type OversizedText = { protocol: 'simple'; head: string; error: GatehouseError } | { protocol: 'extended'; name: string; head: string; error: GatehouseError };

/** What a cut message of `length` (its header's) says, from the bytes kept. A Parse's name must end within them. */
export function oversizedText(frame: Pick<Frame, 'type' | 'body'>, length: number, limits: StatementLimits): OversizedText {
  if (frame.type === FE.Query) return { protocol: 'simple', head: frame.body.toString('utf8'), error: statementSizeError(length - 5, 'simple', limits) };
  const nul = frame.body.indexOf(0);
  if (nul < 0) throw new WireError(`Parse over limits.max_statement_bytes with a statement name longer than ${OVERSIZED_QUERY_KEPT_BYTES} bytes`);
  const atLeast = length - 4 - (nul + 1) - PARSE_TAIL_MAX_BYTES;
  const name = frame.body.subarray(0, nul).toString('utf8');
  return { protocol: 'extended', name, head: frame.body.subarray(nul + 1).toString('utf8'), error: statementSizeError(atLeast, 'extended', limits, true) };
}

/** The refusal of a SQL text of `bytes` bytes (`atLeast`: of at least that many), over limits.max_statement_bytes. */
export function statementSizeError(bytes: number, protocol: 'simple' | 'extended', limits: StatementLimits, atLeast = false): GatehouseError {
  return new GatehouseError(
    'STATEMENT_LIMIT',
    `Gatehouse refused this ${protocol === 'simple' ? 'query' : 'statement'}: its SQL text is ${atLeast ? 'at least ' : ''}${bytes} bytes, over the limit of ${limits.maxStatementBytes} bytes (limits.max_statement_bytes)`,
    { hint: 'Pass large values as bind parameters or with COPY, or ask the operator to raise limits.max_statement_bytes.' },
  );
}

/** Why `sql` may not be parsed and decided, or null. */
export function statementLimitError(sql: string, protocol: 'simple' | 'extended', limits: StatementLimits): GatehouseError | null {
  const bytes = sql.length > limits.maxStatementBytes / 3 ? Buffer.byteLength(sql, 'utf8') : sql.length;
  if (bytes > limits.maxStatementBytes) return statementSizeError(bytes, protocol, limits);
  // Each statement takes at least one character, so a text no longer than the limit cannot be
  // over it: the scan is skipped for the short queries of the hot path. A Parse is counted too:
  // PostgreSQL refuses one of several statements, but only after Gatehouse parsed them all.
  if (sql.length > limits.maxStatementsPerQuery) {
    // The scan stops at the first statement over the limit: its end is never read.
    const count = countStatements(sql, limits.maxStatementsPerQuery);
    if (count > limits.maxStatementsPerQuery) {
      return new GatehouseError(
        'STATEMENT_LIMIT',
        `Gatehouse refused this ${protocol === 'simple' ? 'query' : 'statement'}: it holds more than ${limits.maxStatementsPerQuery} statements, over the limit of ${limits.maxStatementsPerQuery} statements per query (limits.max_statements_per_query)`,
        { hint: 'Send the statements in several queries, or ask the operator to raise limits.max_statements_per_query.' },
      );
    }
  }
  return null;
}

/** What the audit record keeps of a text refused by a limit: its first 1,024 characters. */
export function auditedLimitText(sql: string): string {
  return sql.length > AUDITED_PREFIX_CHARS ? `${sql.slice(0, AUDITED_PREFIX_CHARS)}…` : sql;
}
