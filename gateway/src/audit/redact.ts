// Keeps values (PHI) out of the audit log: every literal in recorded statement text becomes a $n
// placeholder by PostgreSQL's own normalization (pg_stat_statements' algorithm, through
// libpg-query), so the text keeps the shape its fingerprint names; a statement that could not be
// parsed is not recorded at all, and quoted values in error messages are blanked.

import { normalizeSync, scanSync } from 'libpg-query';
import { lineHash } from './chain.ts';
import { redactedFastPathText } from './fast-path-text.ts';
import { REDACTED_STATEMENT } from './redacted-statement.ts';
import type { AuditRecord } from './types.ts';

/**
 * Redacted texts by original text, for texts without a known shape: a prepared statement executed many
 * times is normalized once. Texts with a shape are found by it: a simple-protocol text with a new literal
 * each time would otherwise add an entry per statement (and clear the map every 2048).
 */
const cache = new Map<string, string>();
/**
 * Redacted texts by normalized text: statements that differ only in their literal values (simple
 * protocol) normalize to the same text, whose leftover literals are then looked for once, not per record.
 */
const byShape = new Map<string, string>();
const CACHE_LIMIT = 2048;

/**
 * `text` with each literal replaced by $n; `parsed`: PostgreSQL's parser accepted it. `shape`: the
 * text already normalized (ParsedStatement.shape), which spares normalizing it again; the result is
 * then found by the shape alone (the statement record carries it to redactRecord: REDACTED_STATEMENT).
 */
export function redactStatementText(text: string, parsed: boolean, shape?: string): string {
  if (!parsed) return redactedFastPathText(text) ?? unparsedPlaceholder(text);
  if (shape !== undefined) {
    try {
      return redactedShape(shape);
    } catch {
      return unparsedPlaceholder(text);
    }
  }
  const hit = cache.get(text);
  if (hit !== undefined) return hit;
  let redacted: string;
  try {
    redacted = redactedShape(normalizeSync(text));
  } catch {
    redacted = unparsedPlaceholder(text);
  }
  remember(cache, text, redacted);
  return redacted;
}

/** A normalized text with the literals normalization leaves replaced too; once per shape. */
function redactedShape(normalized: string): string {
  const known = byShape.get(normalized);
  if (known !== undefined) return known;
  const redacted = placeholdersForLeftLiterals(normalized);
  remember(byShape, normalized, redacted);
  return redacted;
}

/** How many redacted texts are kept by original text and by shape (for tests). */
export function redactionCacheSizes(): { byText: number; byShape: number } {
  return { byText: cache.size, byShape: byShape.size };
}

function remember(map: Map<string, string>, key: string, value: string): void {
  if (map.size >= CACHE_LIMIT) map.clear();
  map.set(key, value);
}

/** Literal tokens of PostgreSQL's scanner; libpg-query names B'..', X'..', N'..' and U&'..' strings UNKNOWN. */
const LITERAL_TOKENS: ReadonlySet<string> = new Set(['SCONST', 'ICONST', 'FCONST', 'BCONST', 'XCONST', 'USCONST']);
const PREFIXED_STRING = /^(?:[bBxXnN]|[uU]&)'/;
/** Comment tokens of the scanner (`/* ... *\/`, nested, and `-- ...` to the end of its line). */
const COMMENT_TOKENS: ReadonlySet<string> = new Set(['C_COMMENT', 'SQL_COMMENT']);

/**
 * Normalization replaces the constants of queries but leaves those of most utility statements
 * (`EXECUTE p('...')`, `PREPARE p AS ...`, `CREATE TABLE x AS ...`, `CREATE VIEW`, `COPY ... TO
 * PROGRAM '...'`, `COMMENT ON ... IS '...'`): every literal token still in the text becomes a $n
 * too, numbered after the highest one there (red-team round 7, R7-2). Comments, which normalization
 * keeps as written, are emptied: people and agents write who a query is about in them (R21c-1).
 */
function placeholdersForLeftLiterals(normalized: string): string {
  const tokens = scanSync(normalized).tokens;
  const left = tokens.filter((t) => LITERAL_TOKENS.has(t.tokenName) || COMMENT_TOKENS.has(t.tokenName) || (t.tokenName === 'UNKNOWN' && PREFIXED_STRING.test(t.text)));
  if (left.length === 0) return normalized;
  let next = 1;
  for (const t of tokens) if (t.tokenName === 'PARAM') next = Math.max(next, Number(t.text.slice(1)) + 1);
  // The scanner's offsets are byte offsets into the UTF-8 text.
  const bytes = Buffer.from(normalized, 'utf8');
  const parts: string[] = [];
  let at = 0;
  for (const t of left) {
    const placeholder = t.tokenName === 'C_COMMENT' ? '/* */' : t.tokenName === 'SQL_COMMENT' ? '--' : `$${next++}`;
    parts.push(bytes.subarray(at, t.start).toString('utf8'), placeholder);
    at = t.end;
  }
  parts.push(bytes.subarray(at).toString('utf8'));
  return parts.join('');
}

/** Stands in for text the parser rejected: its literals cannot be told apart, so none of it is kept. */
function unparsedPlaceholder(text: string): string {
  return `<unparsed statement: ${Buffer.byteLength(text)} bytes, sha256 ${lineHash(text).slice(0, 16)}>`;
}

/**
 * Replaces everything from a message's first double quote to its last (values and names alike) with
 * "?": PostgreSQL quotes a value without escaping the double quotes inside it (`invalid input syntax for
 * type integer: "{"name":"..."}"`), so no quoted part can be told from the text between two of them
 * (red-team round 21c, R21c-2). Every number of three or more digits, with what joins its parts
 * (- . / :), becomes ?: PostgreSQL shows some values unquoted (`date field value out of range:
 * 123-45-6789` from make_date, `requested character too large for encoding: 123456789`; R7-4). So does
 * every byte written 0x.. (`invalid byte sequence for encoding "UTF8": 0xf0 0x37 0x33 0x31`: a value's
 * bytes after the bad one; red-team round 21d, R21d-4).
 */
export function redactMessage(message: string): string {
  return message.replace(/"[\s\S]*"/, '"?"').replace(/\b0x[0-9a-fA-F]+/g, '?').replace(/\d(?:[-./:]?\d){2,}/g, '?');
}

/** The record as it may be written: statement text normalized, quoted values out of messages. */
export function redactRecord(record: AuditRecord): AuditRecord {
  switch (record.type) {
    case 'statement': {
      const parsed = record.fingerprint !== '';
      // The decision's own redaction of this text when it handed one (statement-audit.ts), else this text's.
      const statement = (parsed ? record[REDACTED_STATEMENT] : undefined) ?? redactStatementText(record.statement, parsed);
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
