// The operators and types one parse node names, for the statement facts (sql/walk.ts asks for
// every node it visits): an operator runs its function, and a type may run a domain's CHECK or a
// range's support functions, so a user-defined one is a user function to the policy
// (enforce/routine-uses.ts; red-team round 12, R12-8). Names are as written; no catalog here.
import type { WrittenName } from './facts.ts';
import { asNode, isObject, list, listItems, str, stringList, type AstBody } from './ast.ts';

/** Fields whose C type is `TypeName *` (a bare struct): casts, column definitions, signatures, ... */
const TYPE_NAME_FIELDS: ReadonlySet<string> = new Set([
  'typeName', // TypeCast, ColumnDef, XmlSerialize, JsonOutput, JsonTableColumn, RangeTableFuncCol, CreateDomainStmt
  'ofTypename', // CREATE TABLE ... OF t
  'datatype', // CREATE OPERATOR CLASS ... FOR TYPE t
  'storedtype', // ... STORAGE t
  'returnType', // CREATE FUNCTION ... RETURNS t
  'argType', // a routine parameter
  'sourcetype', // CREATE CAST (s AS t)
  'targettype',
  'type_name', // CREATE TRANSFORM FOR t
]);

const EQUALS: WrittenName = Object.freeze({ schema: null, name: '=' });

/** The last two names of a qualified name (a database name before them is dropped), or null. */
export function writtenName(names: readonly string[] | null): WrittenName | null {
  if (names === null || names.length === 0) return null;
  const name = names[names.length - 1]!;
  return { schema: names.length >= 2 ? names[names.length - 2]! : null, name };
}

/** The type a field holds when it is a bare `TypeName` (`x::t`, `c t`, `RETURNS t`), else null. */
export function bareTypeName(field: string, value: unknown): WrittenName | null {
  if (!TYPE_NAME_FIELDS.has(field) || !isObject(value) || asNode(value) !== null) return null;
  return typeNameOf(value);
}

/** The name of a TypeName node's body (`names`: a list of String nodes). */
export function typeNameOf(body: AstBody): WrittenName | null {
  return writtenName(stringList(list(body, 'names')));
}

/**
 * The operators a node names, including those PostgreSQL's parse analysis looks up by name for it:
 * BETWEEN is `>=` and `<=` (NOT BETWEEN `<` and `>`), `CASE x WHEN v` and a join's USING or NATURAL
 * columns are `=`; `x op ANY (SELECT ...)` names its operator on the SubLink, `ORDER BY x USING op`
 * on the SortBy, `EXCLUDE (c WITH op)` on the Constraint.
 */
export function operatorsOf(type: string, body: AstBody): WrittenName[] {
  switch (type) {
    case 'A_Expr':
      return exprOperators(body);
    case 'SubLink':
      return some(writtenName(stringList(list(body, 'operName'))));
    case 'SortBy':
      return some(writtenName(stringList(list(body, 'useOp'))));
    case 'CaseExpr':
      return body['arg'] === undefined ? [] : [EQUALS];
    case 'JoinExpr':
      return body['isNatural'] === true || list(body, 'usingClause').length > 0 ? [EQUALS] : [];
    case 'Constraint':
      // Each exclusion is a List of (IndexElem, List of the operator's names).
      return list(body, 'exclusions').flatMap((e) => some(writtenName(stringList(listItems(listItems(e)[1])))));
    default:
      return [];
  }
}

function exprOperators(body: AstBody): WrittenName[] {
  switch (str(body, 'kind')) {
    case 'AEXPR_BETWEEN':
    case 'AEXPR_BETWEEN_SYM':
      return [{ schema: null, name: '>=' }, { schema: null, name: '<=' }];
    case 'AEXPR_NOT_BETWEEN':
    case 'AEXPR_NOT_BETWEEN_SYM':
      return [{ schema: null, name: '<' }, { schema: null, name: '>' }];
    default:
      return some(writtenName(stringList(list(body, 'name'))));
  }
}

function some(name: WrittenName | null): WrittenName[] {
  return name === null ? [] : [name];
}
