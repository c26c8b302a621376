// The check every masked rewrite passes before it is forwarded: PostgreSQL's parser reads the new
// text, and its tree must equal the client's tree with exactly the planned replacements made (each
// masked relation → its derived table, COPY t → COPY (query), a pinned name → its qualified form).
// A splice that cut a token, swallowed a comment or moved a clause is caught here (fail closed).

import { parseSync } from 'libpg-query';
import { isObject, type AstBody } from '../sql/ast.ts';
import type { TreePath } from '../sql/relation-refs.ts';
import { parsedStatements, type RawStatement } from '../sql/split.ts';

export type Replacement =
  /** A FROM item `t [alias]` → `(derived) alias` (the alias is the table's name when none was written). */
  | { kind: 'from'; path: TreePath; table: string; derived: string; alias: AstBody }
  /** `COPY t [(cols)] TO ...` → `COPY (select) TO ...`. */
  | { kind: 'copy'; path: TreePath; table: string; select: string }
  /** An unqualified name → `schema.name`. */
  | { kind: 'qualify'; path: TreePath; table: string; schema: string };

/**
 * Source positions (byte offsets into the text), which a splice shifts: every `location`, and the
 * offsets PostgreSQL 18's parser added (`rexpr_list_start/_end` of `x IN (...)`, `list_start/_end`
 * of `ARRAY[...]`, `name_location` of a JSON_TABLE path name). Missing one here made every masked
 * statement with such a node fail the check (red-team round 5: `WHERE id IN (1, 2, 3)` refused).
 */
const IGNORED_KEYS = new Set(['location', 'stmt_location', 'stmt_len', 'rexpr_list_start', 'rexpr_list_end', 'list_start', 'list_end', 'name_location']);

/** JSON with sorted keys and without source positions: equal for equal trees. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (isObject(value)) {
    const keys = Object.keys(value)
      .filter((k) => !IGNORED_KEYS.has(k))
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

const parsedQueries = new Map<string, unknown>();

/** The parse tree of a statement Gatehouse wrote itself (cached: the same derived tables recur). */
function parseOwn(sql: string): unknown {
  let tree = parsedQueries.get(sql);
  if (tree === undefined) {
    const stmts = (parseSync(sql) as { stmts?: Array<{ stmt?: unknown }> }).stmts ?? [];
    tree = stmts[0]?.stmt ?? null;
    if (parsedQueries.size >= 512) parsedQueries.clear();
    parsedQueries.set(sql, tree);
  }
  return tree;
}

function derivedSubquery(derived: string): unknown {
  const select = parseOwn(`SELECT 1 FROM ${derived} AS gatehouse_check`) as { SelectStmt?: { fromClause?: Array<{ RangeSubselect?: { subquery?: unknown } }> } } | null;
  return select?.SelectStmt?.fromClause?.[0]?.RangeSubselect?.subquery ?? null;
}

/** The container of the slot a path ends at, and the slot's key. */
function slot(root: unknown, path: TreePath): { parent: Record<string | number, unknown>; key: string | number } | null {
  let node: unknown = root;
  for (let i = 0; i < path.length - 1; i++) {
    if (!isObject(node) && !Array.isArray(node)) return null;
    node = (node as Record<string | number, unknown>)[path[i]!];
  }
  if (!isObject(node) && !Array.isArray(node)) return null;
  return { parent: node as Record<string | number, unknown>, key: path[path.length - 1]! };
}

function apply(root: unknown, r: Replacement): boolean {
  const at = slot(root, r.path);
  if (at === null) return false;
  switch (r.kind) {
    case 'from': {
      const subquery = derivedSubquery(r.derived);
      if (subquery === null) return false;
      at.parent[at.key] = { RangeSubselect: { subquery, alias: r.alias } };
      return true;
    }
    case 'copy': {
      const query = parseOwn(r.select);
      if (query === null) return false;
      delete at.parent[at.key];
      delete at.parent['attlist'];
      at.parent['query'] = query;
      return true;
    }
    case 'qualify': {
      const held = at.parent[at.key];
      const body = isObject(held) && isObject(held['RangeVar']) ? held['RangeVar'] : held;
      if (!isObject(body)) return false;
      (body as Record<string, unknown>)['schemaname'] = r.schema;
      return true;
    }
    default: {
      const never: never = r;
      throw new Error(`unknown replacement ${JSON.stringify(never)}`);
    }
  }
}

/** `same`: the rewritten text's statements as parsed (their offsets give the forwarded texts); `differs`: what differs, in words. */
export type RewriteCheck = { kind: 'same'; statements: RawStatement[] } | { kind: 'differs'; problem: string };

/** Whether `text` parses to exactly the `original` statements with `replacements` applied (one list per statement). */
export function checkRewrite(original: readonly unknown[], text: string, replacements: readonly (readonly Replacement[])[]): RewriteCheck {
  const differs = (problem: string): RewriteCheck => ({ kind: 'differs', problem });
  let parsed: RawStatement[];
  try {
    parsed = parsedStatements(text);
  } catch (e) {
    return differs(`the rewritten text does not parse: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (parsed.length !== original.length) return differs('the rewritten text has a different number of statements');
  for (let i = 0; i < original.length; i++) {
    const expected = structuredClone(original[i]);
    for (const r of replacements[i] ?? []) {
      if (!apply(expected, r)) return differs(`replacement of ${r.table} could not be checked`);
    }
    if (canonical(expected) !== canonical(parsed[i]!.stmt)) return differs(`statement ${i + 1} does not read as intended after rewriting`);
  }
  return { kind: 'same', statements: parsed };
}
