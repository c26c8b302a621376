// The user-defined operators and types a statement names (`1 === 1`, `x::public.email`): they run
// user functions as a call does (an operator's function, a domain's CHECK, a range's support
// functions), so statement.user_functions lists them, by the name as written (red-team round 12,
// R12-8). Read from the parse tree only when the routine snapshot knows such an operator or type at
// all: most databases have none, and their statements are not parsed again.

import { parseSync } from 'libpg-query';
import { relationRefs } from '../sql/relation-refs.ts';
import type { RoutineCatalog, RoutineName } from './routine-catalog.ts';

export function harmfulOperatorsAndTypes(text: string, routines: RoutineCatalog): string[] {
  if (!routines.anyHarmful('operator') && !routines.anyHarmful('type')) return [];
  let stmts: Array<{ stmt?: unknown }>;
  try {
    stmts = (parseSync(text) as { stmts?: Array<{ stmt?: unknown }> }).stmts ?? [];
  } catch {
    return []; // the decision point refuses what does not parse
  }
  const out = new Set<string>();
  const add = (kind: 'operator' | 'type', r: RoutineName): void => {
    if (routines.verdict(kind, r) === 'harmful') out.add(r.schema === null ? r.name : `${r.schema}.${r.name}`);
  };
  for (const s of stmts) {
    for (const r of relationRefs(s.stmt).routines) if (r.kind !== 'function') add(r.kind, r);
    // A cast's type (`x::t`, CAST(x AS t)) is a bare TypeName under `typeName`, not a wrapped node.
    for (const r of castTypes(s.stmt)) add('type', r);
  }
  return [...out];
}

/** Every `typeName: { names: [...] }` in the tree (casts, column definitions), as routine names. */
function castTypes(node: unknown, out: RoutineName[] = []): RoutineName[] {
  if (Array.isArray(node)) {
    for (const n of node) castTypes(n, out);
  } else if (node !== null && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === 'typeName' && value !== null && typeof value === 'object' && Array.isArray((value as { names?: unknown }).names)) {
        const names = ((value as { names: unknown[] }).names).map((n) => (n as { String?: { sval?: string; str?: string } })?.String).map((s) => s?.sval ?? s?.str);
        if (names.length > 0 && names.every((n): n is string => typeof n === 'string')) {
          out.push({ schema: names.length >= 2 ? names[names.length - 2]! : null, name: names[names.length - 1]! });
        }
      }
      castTypes(value, out);
    }
  }
  return out;
}
