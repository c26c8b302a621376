// Names the operation an expression node applies to its operands, for the refusal of computed
// masked outputs (sql/column-uses.ts `computed`); null for nodes that only pass a value through.
import { list, str, stringList, type AstNode } from './ast.ts';

const NAMED: Readonly<Record<string, string>> = {
  TypeCast: 'a cast',
  CaseExpr: 'CASE',
  RowExpr: 'a row constructor',
  A_ArrayExpr: 'an ARRAY constructor',
  CollateClause: 'COLLATE',
  CoalesceExpr: 'COALESCE',
  MinMaxExpr: 'GREATEST/LEAST',
  NullIfExpr: 'NULLIF',
  NullTest: 'IS NULL',
  BooleanTest: 'IS TRUE/FALSE',
  BoolExpr: 'AND/OR/NOT',
  A_Indirection: 'a field selection or subscript',
  GroupingFunc: 'GROUPING',
  XmlExpr: 'an XML function',
  XmlSerialize: 'XMLSERIALIZE',
};

/**
 * What an output expression node does to the values it is given, or null when it passes a value
 * through unchanged: a column reference, a (scalar) subquery, a type name or window definition.
 */
export function operationOf(node: AstNode): string | null {
  const { type, body } = node;
  switch (type) {
    case 'ColumnRef':
    case 'SelectStmt':
    case 'TypeName':
    case 'WindowDef':
    case 'RangeVar':
      return null;
    case 'FuncCall': {
      const names = stringList(list(body, 'funcname')) ?? [];
      const kind = body['over'] !== undefined ? 'window function' : 'function';
      return `${kind} ${names.join('.')}`;
    }
    case 'A_Expr': {
      const kind = (str(body, 'kind') ?? 'AEXPR_OP').replace(/^AEXPR_/, '');
      const names = stringList(list(body, 'name')) ?? [];
      return kind === 'OP' ? `operator ${names.join('.')}` : `${kind.replace(/_/g, ' ')} (operator ${names.join('.')})`;
    }
    case 'SubLink': {
      const kind = str(body, 'subLinkType');
      if (kind === 'EXPR_SUBLINK') return null;
      return kind === 'ARRAY_SUBLINK' ? 'ARRAY(subquery)' : 'a subquery comparison';
    }
    default:
      return NAMED[type] ?? `an expression (${type})`;
  }
}
