// Whether a select list or ORDER BY calls an aggregate: such a query returns groups, not rows, so
// the rows it returns cannot be attributed to the subjects of the rows it read.

import { asNode, isObject, list } from '../sql/ast.ts';
import { MASK_SCHEMA } from './mask-expressions.ts';
import type { RoutineCatalog } from './routine-catalog.ts';

/** PostgreSQL's built-in aggregates: a query calling one outside a subquery returns groups, not rows. */
const AGGREGATES = new Set(
  ('array_agg any_value avg bit_and bit_or bit_xor bool_and bool_or corr count covar_pop covar_samp cume_dist dense_rank every ' +
    'json_agg json_agg_strict json_object_agg json_object_agg_strict json_object_agg_unique json_object_agg_unique_strict jsonb_agg ' +
    'jsonb_agg_strict jsonb_object_agg jsonb_object_agg_strict jsonb_object_agg_unique jsonb_object_agg_unique_strict max min mode ' +
    'percent_rank percentile_cont percentile_disc range_agg range_intersect_agg rank regr_avgx regr_avgy regr_count regr_intercept ' +
    'regr_r2 regr_slope regr_sxx regr_sxy regr_syy stddev stddev_pop stddev_samp string_agg sum var_pop var_samp variance xmlagg').split(' '),
);

/**
 * Whether an expression calls an aggregate (or a function that may be one) outside any subquery.
 * A function the routine catalog does not know as harmless may be a user-defined aggregate.
 */
export function callsAggregate(value: unknown, routines: RoutineCatalog | null): boolean {
  if (Array.isArray(value)) return value.some((v) => callsAggregate(v, routines));
  if (!isObject(value)) return false;
  const node = asNode(value);
  if (node !== null) {
    if (node.type === 'SubLink') return callsAggregate(node.body['testexpr'], routines);
    if (node.type === 'JsonArrayAgg' || node.type === 'JsonObjectAgg' || node.type === 'GroupingFunc') return true;
    if (node.type === 'FuncCall' && !isObject(node.body['over'])) {
      const b = node.body;
      if (b['agg_star'] === true || b['agg_distinct'] === true || list(b, 'agg_order').length > 0 || isObject(b['agg_filter']) || b['agg_within_group'] === true) return true;
      const names = list(b, 'funcname').map((n) => asNode(n)?.body['sval']).filter((n): n is string => typeof n === 'string');
      const name = names[names.length - 1] ?? '';
      const schema = names.length > 1 ? names[names.length - 2]! : null;
      if (AGGREGATES.has(name)) return true;
      // The keyed masking functions masking at the source calls (clients cannot name them: enforce/reserved-names.ts).
      if (schema === MASK_SCHEMA) return Object.values(b).some((v) => callsAggregate(v, routines));
      if (schema !== null && schema !== 'pg_catalog') return true;
      if (routines === null || routines.verdict('function', { schema, name }) !== 'harmless') return true;
    }
  }
  return Object.values(value).some((v) => callsAggregate(v, routines));
}

/**
 * Whether an expression calls a window function over values (`lead(x) OVER ...`, `sum(x) OVER ()`)
 * outside any subquery: a row it returns shows values of other rows, of other subjects (R21c-5).
 * Window functions without arguments (row_number(), rank()) show only positions.
 */
export function callsWindowOverValues(value: unknown): boolean {
  if (Array.isArray(value)) return value.some((v) => callsWindowOverValues(v));
  if (!isObject(value)) return false;
  const node = asNode(value);
  if (node?.type === 'SubLink') return callsWindowOverValues(node.body['testexpr']);
  if (node?.type === 'FuncCall' && isObject(node.body['over']) && (list(node.body, 'args').length > 0 || node.body['agg_star'] === true)) return true;
  return Object.values(value).some((v) => callsWindowOverValues(v));
}
