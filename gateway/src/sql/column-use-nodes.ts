// Small readers of parse nodes for the column-use walk (sql/column-use-walker.ts).
import { asNode, isObject, list, str, stringList, stringValue, type AstBody } from './ast.ts';

/** `AS x(a, b)`: the alias name and its column names. */
export function aliasOf(body: AstBody): { name: string | null; columns: string[] } {
  const alias = body['alias'];
  if (!isObject(alias)) return { name: null, columns: [] };
  return { name: str(alias, 'aliasname'), columns: stringList(list(alias, 'colnames')) ?? [] };
}

/** An integer constant (`ORDER BY 2`), or null. */
export function intConst(value: unknown): number | null {
  const node = asNode(value);
  if (node?.type !== 'A_Const') return null;
  const ival = node.body['ival'];
  if (!isObject(ival)) return null;
  const v = ival['ival'];
  return typeof v === 'number' ? v : 0; // libpg-query omits a zero ival
}

/** Operator name `=` or `pg_catalog.=` (OPERATOR(pg_catalog.=)). */
export function isEquals(names: readonly string[] | null): boolean {
  return names !== null && names[names.length - 1] === '=' && (names.length === 1 || (names.length === 2 && names[0] === 'pg_catalog'));
}

/** A call with nothing but its arguments (no aggregate or window decoration). */
export function plainCall(body: AstBody): boolean {
  return (
    body['agg_star'] !== true &&
    body['agg_distinct'] !== true &&
    body['func_variadic'] !== true &&
    body['over'] === undefined &&
    body['agg_filter'] === undefined &&
    list(body, 'agg_order').length === 0
  );
}

/** The name PostgreSQL gives an unnamed output column, where it matters for references to it. */
export function defaultName(value: unknown): string | null {
  const node = asNode(value);
  if (node === null) return null;
  switch (node.type) {
    case 'ColumnRef': {
      const names = stringList(list(node.body, 'fields'));
      return names?.[names.length - 1] ?? null;
    }
    case 'FuncCall': {
      const names = stringList(list(node.body, 'funcname'));
      return names?.[names.length - 1] ?? null;
    }
    case 'A_Indirection': {
      const steps = list(node.body, 'indirection');
      return stringValue(steps[steps.length - 1]) ?? defaultName(node.body['arg']);
    }
    case 'TypeCast':
      return defaultName(node.body['arg']);
    default:
      return null;
  }
}
