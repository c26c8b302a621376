// Every relation name (RangeVar) of one statement's parse tree, where it stands, and the path to
// it, plus the names of WITH queries and the routines named: what masking at the source rewrites.
// No scoping is worked out here: PostgreSQL resolves column names in the rewritten statement.
import { asNode, isObject, list, str, stringList, type AstBody } from './ast.ts';

/**
 * Where a relation name stands. `from`: a FROM item (also JOIN arms, DELETE ... USING, UPDATE ...
 * FROM, MERGE ... USING), where PostgreSQL accepts a derived table in its place; `copy`: the table
 * of `COPY t [(cols)] TO|FROM`; `target`: the table an INSERT, UPDATE, DELETE or MERGE writes;
 * `other`: anything else (a DDL target, INTO, LOCK, TRUNCATE, ...).
 */
export type RelationPosition = 'from' | 'copy' | 'target' | 'other';

/** Statements whose `relation` is the table they write. */
const WRITE_STATEMENTS = new Set(['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt']);

/** One step from a statement's root to a node: an object key or an array index. */
export type TreePath = readonly (string | number)[];

export interface RelationRef {
  /** The RangeVar's fields (`relname`, `schemaname`, `inh`, `alias`, `location`, ...). */
  rangeVar: AstBody;
  position: RelationPosition;
  /**
   * Path from the statement node to the slot holding the RangeVar: the `{RangeVar: ...}` wrapper
   * for `from`, the bare struct for `copy` and `other`.
   */
  path: TreePath;
  /** For `copy`: the CopyStmt's fields (direction, column list). */
  copy: AstBody | null;
  /** For `target`: the writing statement's fields (RETURNING options, ON CONFLICT). */
  write?: AstBody | null;
  /** For `from`: the nearest enclosing SelectStmt's fields (to tell `TABLE t` from `FROM t`). */
  select: AstBody | null;
}

/** A routine as named in the statement: schema null when unqualified. */
export interface RoutineRef {
  kind: 'function' | 'operator' | 'type';
  schema: string | null;
  name: string;
}

export interface RelationRefs {
  relations: RelationRef[];
  /** Names of every WITH query anywhere in the statement. */
  cteNames: Set<string>;
  /** Functions, operators and types named anywhere (calls, operators, casts). */
  routines: RoutineRef[];
  /**
   * Names in field position (`p.f`, `(x).f`): PostgreSQL calls the function `f(p)` when `p` has no
   * column `f`, so they may be calls.
   */
  fieldNames: Set<string>;
  /** Which columns the statement names, by name only: what masks at the source count as applied. */
  columns: ColumnUses;
}

/**
 * Column names as written, with no scoping: a name here may belong to any relation of the statement.
 * A masked column whose value can reach a result, filter or sort is named here, or read by a star,
 * a whole-row reference (its relation's name or alias in `names`), a NATURAL or an aliased join.
 */
export interface ColumnUses {
  /** The last name of every column reference (`c`, `t.c`, a whole-row `t`), field (`(x).f`) and `JOIN ... USING (c)`. */
  names: Set<string>;
  /** An unqualified `*` anywhere (also `TABLE t`). */
  bareStar: boolean;
  /** The qualifiers of `t.*`. */
  starQualifiers: Set<string>;
  /**
   * Columns can be read without their names: a NATURAL join (its join columns are not written) or
   * an aliased join (`(a JOIN b ON ...) AS j`: `j.*` and a whole-row `j` read both sides).
   */
  unnamedJoin: boolean;
}

const FROM_LISTS = new Set(['fromClause', 'usingClause']);

function routineRef(kind: RoutineRef['kind'], names: readonly string[] | null): RoutineRef | null {
  if (names === null || names.length === 0) return null;
  const name = names[names.length - 1]!;
  const schema = names.length >= 2 ? names[names.length - 2]! : null;
  return { kind, schema, name };
}

/** Collects the relation names, WITH names and routine names of one statement node (wrapped). */
export function relationRefs(statement: unknown): RelationRefs {
  const columns: ColumnUses = { names: new Set(), bareStar: false, starQualifiers: new Set(), unnamedJoin: false };
  const out: RelationRefs = { relations: [], cteNames: new Set(), routines: [], fieldNames: new Set(), columns };
  const path: (string | number)[] = [];

  const visitBody = (type: string, body: AstBody, select: AstBody | null): void => {
    const enclosing = type === 'SelectStmt' ? body : select;
    switch (type) {
      case 'CommonTableExpr': {
        const name = str(body, 'ctename');
        if (name !== null) out.cteNames.add(name);
        break;
      }
      case 'FuncCall': {
        const r = routineRef('function', stringList(Array.isArray(body['funcname']) ? body['funcname'] : []));
        if (r) out.routines.push(r);
        break;
      }
      case 'A_Expr': {
        // BETWEEN names no operator (its bounds use the type's own < and >); the others do.
        const kind = str(body, 'kind') ?? '';
        if (kind.startsWith('AEXPR_BETWEEN') || kind.startsWith('AEXPR_NOT_BETWEEN')) break;
        const r = routineRef('operator', stringList(Array.isArray(body['name']) ? body['name'] : []));
        if (r) out.routines.push(r);
        break;
      }
      case 'TypeName': {
        const r = routineRef('type', stringList(Array.isArray(body['names']) ? body['names'] : []));
        if (r) out.routines.push(r);
        break;
      }
      case 'ColumnRef': {
        const all = Array.isArray(body['fields']) ? body['fields'] : [];
        const fields = stringList(all.filter((f) => asNode(f)?.type === 'String'));
        if (fields && fields.length >= 2) out.fieldNames.add(fields[fields.length - 1]!);
        if (asNode(all[all.length - 1])?.type === 'A_Star') {
          const qualifier = fields?.[fields.length - 1];
          if (qualifier === undefined) columns.bareStar = true;
          else columns.starQualifiers.add(qualifier);
        } else if (fields && fields.length > 0) {
          columns.names.add(fields[fields.length - 1]!);
        }
        break;
      }
      case 'A_Indirection': {
        const items = Array.isArray(body['indirection']) ? body['indirection'] : [];
        for (const item of items) {
          const s = asNode(item);
          if (s?.type === 'String' && typeof s.body['sval'] === 'string') {
            out.fieldNames.add(s.body['sval']);
            columns.names.add(s.body['sval']);
          }
        }
        // `(t).*`, `(t).f`: the whole-row `t` in `arg` is a ColumnRef, named there.
        break;
      }
      case 'JoinExpr': {
        if (body['isNatural'] === true || isObject(body['alias'])) columns.unnamedJoin = true;
        for (const name of stringList(list(body, 'usingClause')) ?? []) columns.names.add(name);
        break;
      }
      default:
        break;
    }
    for (const key of Object.keys(body)) {
      const value = body[key];
      path.push(key);
      if (key === 'relation' && type === 'CopyStmt' && isObject(value)) {
        out.relations.push({ rangeVar: value, position: 'copy', path: [...path], copy: body, select: null });
      } else if (key === 'relation' && WRITE_STATEMENTS.has(type) && isBareRangeVar(value)) {
        out.relations.push({ rangeVar: value, position: 'target', path: [...path], copy: null, select: null, write: body });
      } else if (isBareRangeVar(value)) {
        out.relations.push({ rangeVar: value, position: 'other', path: [...path], copy: null, select: null });
      } else {
        visitValue(value, type, key, enclosing);
      }
      path.pop();
    }
  };

  const visitValue = (value: unknown, parentType: string, key: string, select: AstBody | null): void => {
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        path.push(i);
        visitValue(value[i], parentType, key, select);
        path.pop();
      }
      return;
    }
    const node = asNode(value);
    if (node === null) {
      // A bare struct of a concrete C type (e.g. IntoClause under `into`): walk its fields.
      if (isObject(value)) visitBody(`${parentType}.${key}`, value, select);
      return;
    }
    if (node.type === 'RangeVar') {
      const from = FROM_LISTS.has(key) || (parentType === 'JoinExpr' && (key === 'larg' || key === 'rarg')) || (parentType === 'MergeStmt' && key === 'sourceRelation');
      out.relations.push({ rangeVar: node.body, position: from ? 'from' : 'other', path: [...path], copy: null, select: from ? select : null });
      return;
    }
    path.push(node.type);
    visitBody(node.type, node.body, select);
    path.pop();
  };

  visitValue(statement, '', '', null);
  return out;
}

/**
 * A RangeVar held in a C field of type `RangeVar *` (a DML or DDL target, IntoClause.rel, ...) is a
 * bare struct: told apart from other bare structs by its `relname`.
 */
function isBareRangeVar(value: unknown): value is AstBody {
  return isObject(value) && asNode(value) === null && typeof value['relname'] === 'string';
}
