// While a mask applies to a statement, masked values may leave only through its result columns,
// where they are rewritten. This refuses (0A000) what would carry them out another way:
//  (a) a masked column used other than in an output expression: in WHERE, JOIN, GROUP BY,
//      ORDER BY, windows, LIMIT, a FROM-clause function or a subquery in such a place, or as an
//      argument of a set-returning function in the output (its row count reveals the value).
//      A `hash`-masked column may still be compared with `=` to another hash-masked column (its
//      hashes show equality anyway), but not grouped: GROUP BY, DISTINCT (ON), PARTITION BY and
//      UNION sort (or hash) by the raw values, which orders the result by them.
//  (b) an operation applied to a masked column in an output expression (a function, operator,
//      cast, CASE, aggregate, window function, row or array constructor, subquery comparison,
//      COLLATE, a whole-row reference, ...): the result is masked, but how long the statement
//      runs and whether it fails depend on the raw value (`md5(repeat('x', ascii(ssn) * 10^6))`,
//      `CASE WHEN ssn LIKE '1%' THEN 1/0 END`). A masked column may only be selected as it is.
//  (c) any function, operator or type that may have side effects (pg_notify, set_config, setval,
//      large objects, advisory locks, user-defined functions, ...): see routine-catalog.ts.
import { GatehouseError } from '../errors.ts';
import type { Decision, MaskStrategy } from '../policy/types.ts';
import type { ColumnName, ColumnUse, ComputedOutput, RoutineName, StatementUses } from '../sql/column-uses.ts';
import type { ParsedStatement } from '../sql/facts.ts';
import { indexRules } from './mask-plan.ts';
import type { RoutineCatalog, RoutineKind } from './routine-catalog.ts';

type Rules = Map<string, Map<string, MaskStrategy>>;

/** Why the statement is refused: what the client is told. */
export interface SideChannel {
  message: string;
  hint: string;
}

const COLUMN_HINT =
  'Use masked columns only in the SELECT list; filter, join, group and sort on unmasked columns such as ids. ' +
  'A column masked with "hash" may be compared with = to another hash-masked column (both plain column references), but not grouped or de-duplicated.';

const OUTPUT_HINT =
  'Select masked columns as they are (plain column references, under any alias); compute on unmasked columns only, or ask for unmasked access through the policy.';

const ROUTINE_HINT = 'Leave that call out of statements that read masked columns, or ask for unmasked access through the policy.';

function display(r: RoutineName): string {
  return r.schema === null ? r.name : `${r.schema}.${r.name}`;
}

/** The mask on a column as used: a whole row ("*") counts as its strongest masked column. */
function maskOf(rules: Rules, c: ColumnName): MaskStrategy | null {
  const cols = rules.get(c.table);
  if (cols === undefined) return null;
  if (c.column !== '*') return cols.get(c.column) ?? null;
  return cols.size > 0 ? 'redact' : null;
}

function columnLabel(c: ColumnName): string {
  return c.column === '*' ? `a whole row (or a column not named as in the table) of masked table ${c.table}` : `masked column ${c.table}.${c.column}`;
}

/**
 * Whether a hidden use of a hash-masked column reveals no more than its hashes do: `=` between
 * plain references to hash-masked columns. Grouping (`group`) is not: PostgreSQL groups and
 * de-duplicates by sorting on the raw values (always for DISTINCT ON, whenever it chooses a sort
 * for GROUP BY, DISTINCT, PARTITION BY and UNION), and the result comes back in that order.
 */
function hashSafe(rules: Rules, use: ColumnUse): boolean {
  return use.test === 'equal' && use.peers.length > 0 && use.peers.every((p) => p.column !== '*' && maskOf(rules, p) === 'hash');
}

function hiddenUse(rules: Rules, uses: StatementUses): SideChannel | null {
  for (const use of uses.hidden) {
    const strategy = maskOf(rules, use);
    if (strategy === null || (strategy === 'hash' && use.column !== '*' && hashSafe(rules, use))) continue;
    return {
      message: `Gatehouse does not run this statement: ${columnLabel(use)} is used in ${use.clause}, and filtering, joining, grouping or sorting on a masked column would reveal its values`,
      hint: COLUMN_HINT,
    };
  }
  return null;
}

function computedLabel(c: ComputedOutput): string {
  return c.operation === 'a whole-row reference' ? `a whole row of masked table ${c.table} is used as a value` : `${columnLabel(c)} is computed on in the output (${c.operation})`;
}

/** A masked column (any strategy) given to an operation in an output expression, or a whole row of a masked table. */
function computedOutput(rules: Rules, uses: StatementUses): SideChannel | null {
  const c = uses.computed.find((u) => maskOf(rules, u) !== null);
  if (c === undefined) return null;
  return {
    message: `Gatehouse does not run this statement: ${computedLabel(c)}; computing on a masked value could reveal it through time or errors, so select the column itself`,
    hint: OUTPUT_HINT,
  };
}

function routineUse(catalog: RoutineCatalog, uses: StatementUses, rules: Rules): SideChannel | null {
  const refuse = (kind: RoutineKind, r: RoutineName, unknown: boolean): SideChannel => ({
    message: unknown
      ? `Gatehouse does not run this statement while a mask applies: ${kind} ${display(r)} is not one Gatehouse knows to be free of side effects`
      : `Gatehouse does not run this statement while a mask applies: ${kind} ${display(r)} may have side effects (it is volatile or user-defined), which could carry masked values out of the statement`,
    hint: ROUTINE_HINT,
  });
  for (const f of uses.functions) {
    const v = catalog.verdict('function', f);
    // `ssn(p)` with no function ssn anywhere is column notation for p.ssn.
    if (v === 'harmless' || (v === 'unknown' && f.columnNotation)) continue;
    return refuse('function', f, v === 'unknown');
  }
  for (const name of uses.fields) {
    // `a.b` and `(x).b` call function b(a) when b is not a column or field of a.
    const r = { schema: null, name };
    if (catalog.verdict('function', r) === 'harmful') return refuse('function', r, false);
  }
  for (const op of uses.operators) {
    const v = catalog.verdict('operator', op);
    if (v !== 'harmless') return refuse('operator', op, v === 'unknown');
  }
  for (const t of uses.types) {
    const v = catalog.verdict('type', t);
    if (v !== 'harmless') return refuse('type', t, v === 'unknown');
  }
  for (const field of uses.outputFields) {
    // `p.f` is f(p), a computation on the whole row, when p has no column f: refused when f names a function.
    if (catalog.verdict('function', field.function) === 'unknown' || !field.columns.some((c) => maskOf(rules, c) !== null)) continue;
    return {
      message: `Gatehouse does not run this statement: ${field.function.name} in field position may be function ${field.function.name} applied to a whole row of masked table ${field.columns.find((c) => maskOf(rules, c) !== null)!.table}; computing on a masked value could reveal it through time or errors, so select the column itself`,
      hint: `${OUTPUT_HINT} If ${field.function.name} is a column, write it without the table name.`,
    };
  }
  for (const call of uses.outputCalls) {
    if (!catalog.returnsSet(call.function)) continue;
    const masked = call.columns.find((c) => maskOf(rules, c) !== null);
    if (masked === undefined) continue;
    return {
      message: `Gatehouse does not run this statement: ${columnLabel(masked)} is passed to set-returning function ${display(call.function)}, and the number of rows it returns would reveal its values`,
      hint: COLUMN_HINT,
    };
  }
  return null;
}

function callsAnything(uses: StatementUses): boolean {
  return uses.functions.length + uses.fields.length + uses.operators.length + uses.types.length > 0;
}

/**
 * Why a masked statement could leak masked values other than through its result columns, or
 * null. `catalog` null (the routine snapshot could not be loaded) refuses any statement that calls
 * a function or operator or names a type.
 */
export function sideChannelOf(uses: StatementUses, decision: Decision, catalog: RoutineCatalog | null): SideChannel | null {
  if (decision.action !== 'mask' || decision.masks.length === 0) return null;
  const rules = indexRules(decision.masks);
  const hidden = hiddenUse(rules, uses);
  if (hidden !== null) return hidden;
  if (catalog === null) {
    if (callsAnything(uses)) {
      return {
        message: 'Gatehouse does not run this statement while a mask applies: the database\'s function catalog is not loaded, so the functions and operators it calls cannot be checked for side effects',
        hint: 'Try again in a moment; if this persists, the Gatehouse operator should check its connection to the database catalog.',
      };
    }
  } else {
    const routine = routineUse(catalog, uses, rules);
    if (routine !== null) return routine;
  }
  return computedOutput(rules, uses);
}

/** The refusal the client sees for a masked statement with a side channel, or null. */
export function maskSideChannelRefusal(decision: Decision, stmt: ParsedStatement | null, catalog: RoutineCatalog | null): GatehouseError | null {
  if (stmt === null) return null;
  const found = sideChannelOf(stmt.facts.uses(), decision, catalog);
  if (found === null) return null;
  return new GatehouseError('FEATURE_NOT_SUPPORTED', found.message, {
    decisionId: decision.id,
    detail: `decision ${decision.id}: policy asks to mask ${decision.masks.map((m) => `${m.table}.${m.column} (${m.strategy})`).join(', ')}`,
    hint: found.hint,
  });
}
