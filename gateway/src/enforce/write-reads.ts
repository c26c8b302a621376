// Which column names a write statement reads (WHERE, SET values, RETURNING, joins: every column
// reference, assignment targets excluded), from PostgreSQL's own parse tree. A write that waits for
// approval must not read masked columns of the table it writes: masking at the source cannot cover
// a write's target, so its WHERE would be an oracle and its RETURNING would show raw values.

import { parseSync } from 'libpg-query';

/**
 * Column names referenced anywhere in the statement ("*" for a star, and for a whole-row reference
 * such as `RETURNING p`, `p::text` or `to_jsonb(patients)`, which reads every column); null when it
 * does not parse. A field taken from a composite, `(p).ssn`, counts as a reference to that name.
 */
export function referencedColumns(sql: string): Set<string> | null {
  let tree: unknown;
  try {
    tree = parseSync(sql);
  } catch {
    return null;
  }
  const names = new Set<string>();
  // Names a bare reference could mean a whole row by: tables, their aliases, CTEs, subquery aliases.
  const relations = new Set<string>();
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const n of node) walk(n);
      return;
    }
    if (node === null || typeof node !== 'object') return;
    // A RangeVar, wrapped or not (a write's target relation is not), a subquery or function alias, a CTE.
    const named = node as { relname?: unknown; alias?: { aliasname?: unknown }; ctename?: unknown };
    for (const n of [named.relname, named.alias?.aliasname, named.ctename]) if (typeof n === 'string') relations.add(n);
    for (const [key, value] of Object.entries(node)) {
      if (key === 'ColumnRef') {
        const fields = (value as { fields?: unknown[] }).fields ?? [];
        const last = fields[fields.length - 1] as { String?: { sval?: string }; A_Star?: unknown } | undefined;
        if (last?.A_Star !== undefined) names.add('*');
        else if (typeof last?.String?.sval === 'string') names.add(last.String.sval);
        continue;
      }
      if (key === 'A_Indirection') {
        for (const i of (value as { indirection?: unknown[] }).indirection ?? []) {
          const field = (i as { String?: { sval?: string } }).String?.sval;
          if (typeof field === 'string') names.add(field);
        }
      }
      walk(value);
    }
  };
  walk(tree);
  for (const n of names) if (relations.has(n)) names.add('*');
  return names;
}
