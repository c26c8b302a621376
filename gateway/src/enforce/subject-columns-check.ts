// The check every text with hidden subject columns passes before it is forwarded: PostgreSQL's
// parser reads it again, and each statement must equal the client's with exactly the planned columns
// added at the end of its select list or RETURNING. Otherwise the client's text goes unchanged.

import { asNode } from '../sql/ast.ts';
import { parsedStatements, type RawStatement } from '../sql/split.ts';
import { HIDDEN_PREFIX, type SubjectPlan } from './hidden-subjects.ts';
import { canonical } from './mask-rewrite-check.ts';

/**
 * Null when `text` parses to the original statements with exactly the planned columns added at the
 * end of their select list or RETURNING; otherwise what differs.
 */
export function checkAdded(original: readonly RawStatement[], text: string, plans: readonly (Pick<SubjectPlan, 'hidden'> | null)[]): string | null {
  let parsed: RawStatement[];
  try {
    parsed = parsedStatements(text);
  } catch {
    return 'the new text does not parse';
  }
  if (parsed.length !== original.length) return 'the new text has a different number of statements';
  for (let i = 0; i < original.length; i++) {
    const added = plans[i]?.hidden.length ?? 0;
    const after = structuredClone(parsed[i]!.stmt) as Record<string, Record<string, unknown>>;
    if (added > 0) {
      const node = asNode(after);
      if (node === null) return `statement ${i + 1} lost its added columns`;
      const body = node.body as Record<string, unknown>;
      const select = node.type === 'SelectStmt';
      const holder = select ? body : (body['returningClause'] as Record<string, unknown> | undefined);
      const key = select ? 'targetList' : 'exprs';
      const items = holder?.[key];
      if (!Array.isArray(items) || items.length < added) return `statement ${i + 1} lost its added columns`;
      const extra = items.splice(items.length - added, added);
      for (const e of extra) {
        const name = asNode(e)?.body['name'];
        if (typeof name !== 'string' || !name.startsWith(HIDDEN_PREFIX)) return `statement ${i + 1} has an unexpected added column`;
      }
      if (!select && items.length === 0) delete body['returningClause'];
    }
    if (canonical(after) !== canonical(original[i]!.stmt)) return `statement ${i + 1} does not read as intended`;
  }
  return null;
}
