// Which column names a write statement reads (WHERE, SET values, RETURNING, joins: every column
// reference, assignment targets excluded), from PostgreSQL's own parse tree. A write that waits for
// approval must not read masked columns of the table it writes: masking at the source cannot cover
// a write's target, so its WHERE would be an oracle and its RETURNING would show raw values.

import { parseSync } from 'libpg-query';

/** Column names referenced anywhere in the statement ("*" for a star); null when it does not parse. */
export function referencedColumns(sql: string): Set<string> | null {
  let tree: unknown;
  try {
    tree = parseSync(sql);
  } catch {
    return null;
  }
  const names = new Set<string>();
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const n of node) walk(n);
      return;
    }
    if (node === null || typeof node !== 'object') return;
    for (const [key, value] of Object.entries(node)) {
      if (key === 'ColumnRef') {
        const fields = (value as { fields?: unknown[] }).fields ?? [];
        const last = fields[fields.length - 1] as { String?: { sval?: string }; A_Star?: unknown } | undefined;
        if (last?.A_Star !== undefined) names.add('*');
        else if (typeof last?.String?.sval === 'string') names.add(last.String.sval);
        continue;
      }
      walk(value);
    }
  };
  walk(tree);
  return names;
}
