// Names Gatehouse reserves in the upstream database: the `gatehouse` schema and every routine or
// relation named `gatehouse_mask*` (the keyed masking functions and their key, db/mask-functions.ts).
// A client statement naming one is refused before any policy is asked, so the keyed functions run
// only inside the derived tables Gatehouse writes, over values read from the masked table itself.

import type { ParsedStatement } from '../sql/facts.ts';
import { MASK_SCHEMA } from './mask-expressions.ts';

const PREFIX = 'gatehouse_mask';

function reserved(qualifiedOrBare: string): boolean {
  const dot = qualifiedOrBare.lastIndexOf('.');
  const schema = dot < 0 ? null : qualifiedOrBare.slice(0, dot);
  const name = dot < 0 ? qualifiedOrBare : qualifiedOrBare.slice(dot + 1);
  return schema === MASK_SCHEMA || schema?.endsWith(`.${MASK_SCHEMA}`) === true || name.startsWith(PREFIX);
}

/** Why a statement names a reserved object (refused before any policy is asked), or null. */
export function reservedObjectUse(parsed: ParsedStatement): string | null {
  const f = parsed.facts;
  const fn = f.functions.find(reserved);
  if (fn !== undefined) return `routine ${fn} is reserved for Gatehouse's masking`;
  const table = [...f.tablesRead, ...f.tablesWritten].find((t) => reserved(t.qualified));
  if (table !== undefined) return `relation ${table.qualified} is reserved for Gatehouse's masking`;
  return null;
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
