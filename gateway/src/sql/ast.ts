// Loose typing and small readers for libpg-query's JSON AST (PostgreSQL's parse nodes as JSON).
//
// A node appears either wrapped, `{ "SelectStmt": { ... } }`, where the C field is a generic
// `Node *`, or bare (`relation: { relname: ... }`) where the C field has a concrete type. Node
// type names are PascalCase and field names are camelCase or snake_case, which is how a wrapped
// node is told apart from a bare struct.

/** The body of one parse node: its fields. */
export type AstBody = { readonly [field: string]: unknown };

/** A wrapped node's type name and body. */
export interface AstNode {
  type: string;
  body: AstBody;
}

export function isObject(value: unknown): value is AstBody {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Unwraps `{ Type: body }`; null when `value` is not a wrapped node. */
export function asNode(value: unknown): AstNode | null {
  if (!isObject(value)) return null;
  let type: string | null = null;
  for (const key in value) {
    if (type !== null) return null; // more than one key: a bare struct
    type = key;
  }
  if (type === null) return null;
  const first = type.charCodeAt(0);
  if (first < 65 || first > 90) return null; // not an upper-case letter
  const body = value[type];
  return isObject(body) ? { type, body } : null;
}

/** The body of a field that holds a node of a known type, wrapped or bare. */
export function bodyOf(value: unknown, type: string): AstBody | null {
  if (!isObject(value)) return null;
  const wrapped = value[type];
  if (isObject(wrapped)) return wrapped;
  return asNode(value) === null ? value : null;
}

export function str(body: AstBody, name: string): string | null {
  const v = body[name];
  return typeof v === 'string' ? v : null;
}

export function list(body: AstBody, name: string): readonly unknown[] {
  const v = body[name];
  return Array.isArray(v) ? v : [];
}

/** The name an item's `alias` (an Alias node) gives it, or null without one. */
export function aliasName(body: AstBody): string | null {
  const alias = body['alias'];
  return isObject(alias) ? str(alias, 'aliasname') : null;
}

/** The text of a `String` node (`{String: {sval}}`), or null. */
export function stringValue(value: unknown): string | null {
  const node = asNode(value);
  if (node === null || node.type !== 'String') return null;
  const sval = node.body['sval'];
  return typeof sval === 'string' ? sval : '';
}

/** Names from a list of `String` nodes, e.g. a FuncCall's funcname; null if any item is not a String. */
export function stringList(values: readonly unknown[]): string[] | null {
  const out: string[] = [];
  for (const v of values) {
    const s = stringValue(v);
    if (s === null) return null;
    out.push(s);
  }
  return out;
}

/** Items of a `{List: {items}}` node. */
export function listItems(value: unknown): readonly unknown[] {
  const node = asNode(value);
  if (node === null || node.type !== 'List') return [];
  return list(node.body, 'items');
}
