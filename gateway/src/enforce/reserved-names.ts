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
