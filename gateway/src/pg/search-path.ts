// Follows the session's effective search_path, so unqualified table names in policy input are
// qualified the way PostgreSQL resolves them. Gatehouse does not interpret SET values itself: after
// a batch that may have changed the path it asks the server (current_schemas), which also covers
// SET LOCAL, RESET, rolled-back transactions, set_config() and DO blocks.

import type { StatementFacts } from '../sql/facts.ts';

/** The hidden query: the schemas PostgreSQL actually searches (existing ones, $user resolved). */
export const SEARCH_PATH_PROBE = 'SELECT pg_catalog.current_schemas(false)::text';

/** Whether running this statement may leave a different search_path behind. */
export function mayChangeSearchPath(facts: StatementFacts): boolean {
  switch (facts.kind) {
    case 'set':
      return facts.setting === 'search_path' || facts.setting === 'all';
    case 'discard':
    case 'do':
    case 'call':
      return true;
    default:
      return facts.functions.some((f) => f === 'set_config' || f === 'pg_catalog.set_config');
  }
}

/**
 * Parses PostgreSQL's text form of a name[] ("{public,\"My Schema\"}") into its elements.
 * Returns null for anything that is not a well-formed one-dimensional array.
 */
export function parseNameArray(text: string): string[] | null {
  if (!text.startsWith('{') || !text.endsWith('}')) return null;
  const body = text.slice(1, -1);
  const out: string[] = [];
  let i = 0;
  while (i < body.length) {
    let item = '';
    if (body[i] === '"') {
      i++;
      while (i < body.length && body[i] !== '"') {
        if (body[i] === '\\') i++;
        item += body[i] ?? '';
        i++;
      }
      if (body[i] !== '"') return null;
      i++;
    } else {
      while (i < body.length && body[i] !== ',') item += body[i++];
    }
    out.push(item);
    if (i < body.length) {
      if (body[i] !== ',') return null;
      i++;
    }
  }
  return out;
}
