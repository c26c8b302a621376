// Which table columns a statement uses other than as (part of) an output expression, and which
// routines (functions, operators, types) it may invoke: what enforce/mask-side-channels.ts needs
// to keep masked values from leaving through predicates, ordering, grouping or side effects.
//
// "Output" is a result column's expression, followed through subqueries, CTEs and set operations
// by lineage (sql/column-lineage.ts): `SELECT x.s FROM (SELECT ssn AS s FROM patients) x` uses ssn
// only as output, `... WHERE x.s LIKE '1%'` uses it in WHERE. Anything that decides which rows
// come back, how many, or in which order is a "hidden" use: WHERE, JOIN ON/USING, GROUP BY,
// HAVING, DISTINCT, ORDER BY, windows, LIMIT/OFFSET, FROM-clause function arguments, set
// operations that de-duplicate, and everything inside a subquery that is itself in such a place.
//
// In output expressions a column may only be passed through (a plain reference, possibly through
// aliases, subqueries, CTEs and set operations): any operation applied to it there (a function,
// operator, cast, CASE, aggregate, row or array constructor, subquery comparison, ...) is recorded
// as `computed`, since its run time or its errors depend on the value even when the result is
// masked. A whole-row reference (`SELECT p`, `row_to_json(p)`) computes on every column of the row.
import type { AstNode } from './ast.ts';
import { ColumnUseWalker } from './column-use-walker.ts';

/**
 * How a hidden use tests the column: `group` (a plain column grouped or de-duplicated), `equal`
 * (a plain column compared with `=` to plain columns, listed in `peers`), `other` (anything else:
 * ordering, ranges, patterns, functions of it).
 */
export type UseTest = 'group' | 'equal' | 'other';

export interface ColumnName {
  /** TableRef.qualified */
  table: string;
  /** A column name, or "*" for a whole row or a column that cannot be named without the catalog. */
  column: string;
}

/** A use of a table column outside output expressions. */
export interface ColumnUse extends ColumnName {
  /** Where, in words for an error message: "WHERE", "JOIN", "ORDER BY", ... */
  clause: string;
  test: UseTest;
  /** For `equal`: the columns on the other side. */
  peers: ColumnName[];
}

/** A routine name as written: schema null when unqualified. */
export interface RoutineName {
  schema: string | null;
  name: string;
}

export interface FunctionUse extends RoutineName {
  /** `f(p)` with `p` a FROM item: PostgreSQL reads it as column `p.f` when no such function exists. */
  columnNotation: boolean;
}

/** A function called in an output expression and the table columns its arguments carry (a set-returning one decides the row count). */
export interface OutputCall {
  function: RoutineName;
  columns: ColumnName[];
}

/** A table column an operation is applied to in an output expression. */
export interface ComputedOutput extends ColumnName {
  /** The operation, in words for an error message: "function md5", "a cast", "CASE", ... */
  operation: string;
}

export interface StatementUses {
  hidden: ColumnUse[];
  computed: ComputedOutput[];
  outputCalls: OutputCall[];
  /**
   * `p.f` or `(p).f` in an output expression with `p` a FROM item: PostgreSQL calls function f on
   * the whole row when p has no column f (`p.row_to_json`). `columns` is what that row carries.
   */
  outputFields: OutputCall[];
  functions: FunctionUse[];
  /** Names in field or attribute position (`a.b`, `(x).b`): PostgreSQL calls function `b(a)` when `b` is not a column. */
  fields: string[];
  operators: RoutineName[];
  /** Types named in casts and column definitions (a cast or a domain check may call a function). */
  types: RoutineName[];
}

export const NO_USES: StatementUses = Object.freeze({ hidden: [], computed: [], outputCalls: [], outputFields: [], functions: [], fields: [], operators: [], types: [] });

/** Column uses and routines of one statement. */
export function extractColumnUses(stmt: AstNode, searchPath: readonly string[]): StatementUses {
  return new ColumnUseWalker(searchPath).run(stmt);
}
