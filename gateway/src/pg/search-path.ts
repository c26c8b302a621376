// Follows the session's effective search_path, so unqualified table names in policy input are
// resolved the way PostgreSQL resolves them (sql/table-ref.ts). Gatehouse does not interpret SET
// values itself: at the start of every session, and after a batch that may have changed the path,
// it asks the server, which also covers startup parameters, ALTER ROLE/DATABASE ... SET, SET LOCAL,
// RESET, rolled-back transactions, set_config(), DO blocks and SET ROLE (which changes `$user`).

import type { StatementFacts } from '../sql/facts.ts';

/**
 * The hidden query. One text value, a JSON array: the path as set (schemas that do not exist yet
 * included: one may be created while the session runs), the schemas the server searches now
 * (to know whether `$user` exists), the current user (what `$user` stands for), and the
 * requester's `gatehouse.reason` setting (null when never set), read along for approvals.
 */
export const SEARCH_PATH_PROBE =
  "SELECT pg_catalog.json_build_array(pg_catalog.current_setting('search_path'), pg_catalog.current_schemas(true), CURRENT_USER, pg_catalog.current_setting('gatehouse.reason', true))::text";

/** What the probe says. */
export interface ProbedSearchPath {
  /** The search_path setting's text, e.g. `"$user", public`. */
  setting: string;
  /** `current_schemas(true)`: the schemas searched now, implicit ones included. */
  searched: string[];
  user: string;
  /** `gatehouse.reason` as set in the session ('' after RESET reads as null): the requester's reason for approvals. */
  reason: string | null;
}

/** Whether running this statement may leave a different search_path (or `$user`) behind. */
export function mayChangeSearchPath(facts: StatementFacts): boolean {
  switch (facts.kind) {
    case 'set':
      return facts.setting === null || ['search_path', 'all', 'role', 'session_authorization'].includes(facts.setting);
    case 'discard':
    case 'do':
    case 'call':
      return true;
    default:
      // Functions are recorded without a database name (sql/function-names.ts); a set_config in
      // any schema counts, whoever's it is.
      return facts.functions.some((f) => f === 'set_config' || f.endsWith('.set_config'));
  }
}

/** The probe's answer, or null when it is not what the probe returns. */
export function parseProbe(text: string): ProbedSearchPath | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (!Array.isArray(value) || value.length !== 4) return null;
  const [setting, searched, user, reason] = value as unknown[];
  if (typeof setting !== 'string' || typeof user !== 'string' || !Array.isArray(searched)) return null;
  if (!searched.every((s): s is string => typeof s === 'string')) return null;
  if (reason !== null && typeof reason !== 'string') return null;
  return { setting, searched, user, reason: reason === null || reason.trim() === '' ? null : reason };
}

/** Temporary schemas: the session's own (pg_temp_N), and their TOAST companions. */
const TEMP_SCHEMA = /^pg_(toast_)?temp_\d+$/;

/**
 * The explicit search path to resolve names with (table-ref.ts adds pg_catalog in front when it
 * is not named): the setting's schemas in order, whether they exist now or not, so that a schema
 * created later cannot take a name from under the policy; `$user` as the current user's schema
 * only when that exists now (the default path names it, and it rarely does); without the
 * temporary schema, whose tables are the session's own (see table-ref.ts searchOrder).
 * Null when the setting cannot be read as PostgreSQL reads it.
 */
export function resolutionPath(probe: ProbedSearchPath): string[] | null {
  const names = splitIdentifierList(probe.setting);
  if (names === null) return null;
  const out: string[] = [];
  for (const name of names) {
    let schema: string | null = name;
    if (name === '$user') schema = probe.searched.includes(probe.user) ? probe.user : null;
    else if (name === 'pg_temp' || TEMP_SCHEMA.test(name)) schema = null;
    if (schema !== null && !out.includes(schema)) out.push(schema);
  }
  return out;
}

/** PostgreSQL's scanner_isspace. */
function isSpace(c: string | undefined): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v';
}

/** The longest identifier PostgreSQL keeps, in bytes (NAMEDATALEN - 1). */
const MAX_IDENTIFIER_BYTES = 63;

/**
 * PostgreSQL's SplitIdentifierString(text, ','), as it reads search_path: names separated by
 * commas and optional whitespace; a quoted name keeps its case ("" is a quote); an unquoted one is
 * lower-cased (ASCII letters); both are truncated to 63 bytes. Null on a syntax error.
 */
export function splitIdentifierList(text: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  while (isSpace(text[i])) i++;
  if (i >= text.length) return out;
  for (;;) {
    let name = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        const end = text.indexOf('"', i);
        if (end < 0) return null;
        name += text.slice(i, end);
        i = end + 1;
        if (text[i] !== '"') break;
        name += '"';
        i++;
      }
    } else {
      const start = i;
      while (i < text.length && text[i] !== ',' && !isSpace(text[i])) i++;
      if (i === start) return null;
      name = text.slice(start, i).replace(/[A-Z]/g, (c) => c.toLowerCase());
    }
    while (isSpace(text[i])) i++;
    out.push(truncateIdentifier(name));
    if (i >= text.length) return out;
    if (text[i] !== ',') return null;
    i++;
    while (isSpace(text[i])) i++;
  }
}

/** Truncates to 63 bytes of UTF-8 without splitting a character, as truncate_identifier does. */
function truncateIdentifier(name: string): string {
  if (Buffer.byteLength(name, 'utf8') <= MAX_IDENTIFIER_BYTES) return name;
  let out = '';
  for (const ch of name) {
    if (Buffer.byteLength(out + ch, 'utf8') > MAX_IDENTIFIER_BYTES) break;
    out += ch;
  }
  return out;
}
