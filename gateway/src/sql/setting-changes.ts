// Finds every change a statement makes to a run-time parameter, wherever it is written: SET, SET
// LOCAL, SET NAMES, RESET and DISCARD ALL; ALTER ROLE / DATABASE / SYSTEM ... SET; the SET clause of CREATE
// and ALTER FUNCTION or PROCEDURE; set_config() calls under any qualified name; and UPDATE of
// pg_settings. Names and values are reported as written (string constants already unescaped by
// the parser), or as unknown where Gatehouse would have to evaluate an expression.
import { asNode, bodyOf, isObject, list, str, stringList, type AstBody, type AstNode } from './ast.ts';

/** A name or value as PostgreSQL will receive it as text. */
export type SettingValue =
  | { kind: 'text'; text: string }
  /** A protocol parameter ($n): known only once the statement is bound. */
  | { kind: 'param'; number: number }
  /** RESET, SET ... TO DEFAULT or FROM CURRENT: back to (or kept at) a value the session already had. */
  | { kind: 'reset' }
  /** An expression, NULL, several values, or anything else Gatehouse does not evaluate. */
  | { kind: 'unknown' };

/** The construct that makes the change. */
export type SettingOrigin =
  | 'SET'
  /** Also ends SET ROLE and SET SESSION AUTHORIZATION, which RESET ALL leaves alone. */
  | 'DISCARD ALL'
  | 'ALTER ROLE ... SET'
  | 'ALTER DATABASE ... SET'
  | 'ALTER SYSTEM'
  | 'a function SET clause'
  | 'set_config()'
  | 'UPDATE pg_settings';

export interface SettingChange {
  origin: SettingOrigin;
  /** The parameter's name as written (RESET ALL and DISCARD ALL: "all"). */
  name: SettingValue;
  value: SettingValue;
}

const UNKNOWN: SettingValue = { kind: 'unknown' };
const RESET: SettingValue = { kind: 'reset' };

/** set_config(setting_name, new_value, is_local): its parameters, for named-argument calls. */
const SET_CONFIG_PARAMS = ['setting_name', 'new_value', 'is_local'];

/** Every parameter change in one statement's parse tree, in the order written. */
export function settingChanges(stmt: AstNode): SettingChange[] {
  const out: SettingChange[] = [];
  visit(stmt, { origin: 'SET', protocolParams: true }, out);
  return out;
}

interface Context {
  /** The construct nested SET clauses belong to. */
  origin: SettingOrigin;
  /**
   * Whether $n refers to the protocol parameters bound to the statement. Inside PREPARE and a
   * routine's body it refers to the prepared statement's or the routine's own arguments.
   */
  protocolParams: boolean;
}

/** The context a statement node gives what is nested in it. */
function contextOf(type: string, current: Context): Context {
  switch (type) {
    case 'AlterRoleSetStmt':
      return { ...current, origin: 'ALTER ROLE ... SET' };
    case 'AlterDatabaseSetStmt':
      return { ...current, origin: 'ALTER DATABASE ... SET' };
    case 'AlterSystemStmt':
      return { ...current, origin: 'ALTER SYSTEM' };
    case 'CreateFunctionStmt':
      return { origin: 'a function SET clause', protocolParams: false };
    case 'AlterFunctionStmt':
      return { ...current, origin: 'a function SET clause' };
    case 'PrepareStmt':
    case 'ViewStmt':
    case 'RuleStmt':
      return { ...current, protocolParams: false };
    default:
      return current;
  }
}

function walk(value: unknown, ctx: Context, out: SettingChange[]): void {
  if (Array.isArray(value)) {
    for (const v of value) walk(v, ctx, out);
    return;
  }
  if (!isObject(value)) return;
  const node = asNode(value);
  if (node === null) walkFields(value, ctx, out);
  else visit(node, ctx, out);
}

function visit(node: AstNode, ctx: Context, out: SettingChange[]): void {
  if (node.type === 'VariableSetStmt') {
    out.push(variableSet(node.body, ctx.origin));
    return;
  }
  if (node.type === 'DiscardStmt') {
    if (str(node.body, 'target') === 'DISCARD_ALL') out.push({ origin: 'DISCARD ALL', name: { kind: 'text', text: 'all' }, value: RESET });
    return;
  }
  if (node.type === 'FuncCall') {
    const change = setConfig(node.body, ctx);
    if (change !== null) out.push(change);
  }
  // pg_settings has a rule that turns UPDATE ... SET setting = v WHERE name = n into set_config(n, v).
  if (node.type === 'UpdateStmt' && updatesPgSettings(node.body)) out.push({ origin: 'UPDATE pg_settings', name: UNKNOWN, value: UNKNOWN });
  walkFields(node.body, contextOf(node.type, ctx), out);
}

function walkFields(body: AstBody, ctx: Context, out: SettingChange[]): void {
  for (const key in body) {
    const v = body[key];
    // ALTER ROLE/DATABASE/SYSTEM hold their SET as a bare (unwrapped) VariableSetStmt.
    if (key === 'setstmt') {
      const set = bodyOf(v, 'VariableSetStmt');
      if (set !== null) out.push(variableSet(set, ctx.origin));
    } else if (typeof v === 'object' && v !== null) {
      walk(v, ctx, out);
    }
  }
}

/** UPDATE of pg_catalog.pg_settings, or of an unqualified pg_settings (which normally is that view). */
function updatesPgSettings(body: AstBody): boolean {
  const relation = bodyOf(body['relation'], 'RangeVar');
  if (relation === null || str(relation, 'relname') !== 'pg_settings') return false;
  const schema = str(relation, 'schemaname');
  return schema === null || schema === 'pg_catalog';
}

function variableSet(body: AstBody, origin: SettingOrigin): SettingChange {
  const name = str(body, 'name');
  const named: SettingValue = name === null ? UNKNOWN : { kind: 'text', text: name };
  switch (str(body, 'kind')) {
    case 'VAR_SET_VALUE': {
      const args = list(body, 'args');
      return { origin, name: named, value: args.length === 1 ? constant(args[0]) : UNKNOWN };
    }
    case 'VAR_SET_DEFAULT':
    case 'VAR_SET_CURRENT':
    case 'VAR_RESET':
      return { origin, name: named, value: RESET };
    case 'VAR_RESET_ALL':
      return { origin, name: { kind: 'text', text: 'all' }, value: RESET };
    default:
      // VAR_SET_MULTI (SET TRANSACTION ..., SET SESSION CHARACTERISTICS ...), or a shape not known here.
      return { origin, name: named, value: UNKNOWN };
  }
}

/** A constant as PostgreSQL turns it into a parameter's text value; UNKNOWN for anything else. */
function constant(value: unknown): SettingValue {
  const node = asNode(value);
  if (node === null || node.type !== 'A_Const' || node.body['isnull'] === true) return UNKNOWN;
  const c = node.body;
  const field = (name: string): AstBody | null => (isObject(c[name]) ? (c[name] as AstBody) : null);
  const sval = field('sval');
  if (sval !== null) return { kind: 'text', text: str(sval, 'sval') ?? '' };
  const ival = field('ival');
  if (ival !== null) return { kind: 'text', text: String(typeof ival['ival'] === 'number' ? ival['ival'] : 0) };
  const fval = field('fval');
  if (fval !== null) return { kind: 'text', text: str(fval, 'fval') ?? '0' };
  const boolval = field('boolval');
  if (boolval !== null) return { kind: 'text', text: boolval['boolval'] === true ? 'true' : 'false' };
  return UNKNOWN;
}

/**
 * A constant, a constant cast to text, or a $n parameter: what a set_config() argument may be and
 * still be known.
 */
function argument(value: unknown, ctx: Context): SettingValue {
  const node = asNode(value);
  if (node?.type === 'ParamRef') {
    const n = node.body['number'];
    return ctx.protocolParams && typeof n === 'number' && n > 0 ? { kind: 'param', number: n } : UNKNOWN;
  }
  if (node?.type === 'TypeCast') {
    const type = bodyOf(node.body['typeName'], 'TypeName');
    const names = type === null ? null : stringList(list(type, 'names'));
    const plainText = names !== null && names.at(-1) === 'text' && (names.length === 1 || (names.length === 2 && names[0] === 'pg_catalog'));
    const modified = type !== null && (list(type, 'typmods').length > 0 || list(type, 'arrayBounds').length > 0);
    return plainText && !modified ? argument(node.body['arg'], ctx) : UNKNOWN;
  }
  return constant(value);
}

/**
 * set_config(name, value, is_local) under any name ending in set_config (pg_catalog.set_config,
 * db.pg_catalog.set_config, a quoted "SET_CONFIG"): a name that is not PostgreSQL's built-in only
 * costs a needless refusal, never a missed one.
 */
function setConfig(body: AstBody, ctx: Context): SettingChange | null {
  const names = stringList(list(body, 'funcname'));
  const last = names?.at(-1);
  if (last === undefined || last.toLowerCase() !== 'set_config') return null;
  const args: SettingValue[] = [UNKNOWN, UNKNOWN];
  list(body, 'args').forEach((a, i) => {
    const node = asNode(a);
    if (node?.type === 'NamedArgExpr') {
      const at = SET_CONFIG_PARAMS.indexOf(str(node.body, 'name') ?? '');
      if (at >= 0 && at < 2) args[at] = argument(node.body['arg'], ctx);
    } else if (i < 2) {
      args[i] = argument(a, ctx);
    }
  });
  if (body['agg_star'] === true || body['func_variadic'] === true) return { origin: 'set_config()', name: UNKNOWN, value: UNKNOWN };
  return { origin: 'set_config()', name: args[0]!, value: args[1]! };
}
