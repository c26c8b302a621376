// Names Gatehouse reserves in the upstream database: the `gatehouse` schema and every routine or
// relation named `gatehouse_mask*` (the keyed masking functions and their key, db/mask-functions.ts).
// A client statement naming one is refused before any policy is asked, so the keyed functions run
// only inside the derived tables Gatehouse writes, over values read from the masked table itself.

import type { ParsedStatement } from '../sql/facts.ts';
import { MASK_SCHEMA } from './mask-expressions.ts';

const PREFIX = 'gatehouse_mask';

const DOT_SCHEMA = `.${MASK_SCHEMA}`;

/** The schema (before the last dot) is MASK_SCHEMA or ends with `.MASK_SCHEMA`, or the name starts with PREFIX (read in place: it runs for every name of every statement). */
function reserved(qualifiedOrBare: string): boolean {
  const dot = qualifiedOrBare.lastIndexOf('.');
  if (qualifiedOrBare.startsWith(PREFIX, dot + 1)) return true;
  if (dot < 0) return false;
  if (dot === MASK_SCHEMA.length && qualifiedOrBare.startsWith(MASK_SCHEMA)) return true;
  return dot > DOT_SCHEMA.length - 1 && qualifiedOrBare.startsWith(DOT_SCHEMA, dot - DOT_SCHEMA.length);
}

/** Why a statement names a reserved object (refused before any policy is asked), or null. */
export function reservedObjectUse(parsed: ParsedStatement): string | null {
  const f = parsed.facts;
  const fn = f.functions.find(reserved);
  if (fn !== undefined) return `routine ${fn} is reserved for Gatehouse's masking`;
  for (const t of f.tablesRead) if (reserved(t.qualified)) return reservedRelation(t.qualified);
  for (const t of f.tablesWritten) if (reserved(t.qualified)) return reservedRelation(t.qualified);
  return null;
}

function reservedRelation(qualified: string): string {
  return `relation ${qualified} is reserved for Gatehouse's masking`;
}

/**
 * Gatehouse prepares protocol-level statements upstream under names with this prefix. A client can
 * see them in pg_prepared_statements; SQL-level EXECUTE or PREPARE of such a name would run (or
 * shadow) a statement outside its decision, so it is refused before any policy is asked.
 */
export const RESERVED_STATEMENT_PREFIX = 'gatehouse_';

/** Why a statement uses a reserved name (refused before any policy is asked), or null. */
export function reservedNameUse(parsed: ParsedStatement): string | null {
  const name = parsed.facts.preparedName;
  if (name === null || !name.startsWith(RESERVED_STATEMENT_PREFIX)) return null;
  const kind = parsed.facts.kind === 'explain' ? parsed.facts.innerKind : parsed.facts.kind;
  if (kind !== 'execute' && kind !== 'prepare') return null;
  return `prepared statement names starting with "${RESERVED_STATEMENT_PREFIX}" are reserved for Gatehouse`;
}
