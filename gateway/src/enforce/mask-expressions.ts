// The SQL expression that replaces a masked column inside the derived table of a masked relation
// (enforce/mask-rewrite.ts): one per strategy, aware of the column's type, never failing on a value.
// Every function and operator is schema-qualified, so no search_path can substitute another.

import type { MaskStrategy } from '../policy/types.ts';
import type { ColumnInfo, MaskFunctions } from './relation-catalog.ts';

/** Schema and functions installed by `gatehouse db setup` (db/mask-functions.ts). */
export const MASK_SCHEMA = 'gatehouse';
export const HASH_FUNCTION = `${MASK_SCHEMA}.gatehouse_mask_hash`;
export const FAKE_FUNCTION = `${MASK_SCHEMA}.gatehouse_mask_fake`;
export const FAKE_DATE_FUNCTION = `${MASK_SCHEMA}.gatehouse_mask_fake_date`;
/** last4 in C (extension gatehouse_mask 1.1): the SQL expression's output without its five calls. */
export const LAST4_FUNCTION = `${MASK_SCHEMA}.gatehouse_mask_last4`;

/** The alias of the masked table inside its derived table (invisible outside it). */
export const SOURCE_ALIAS = 'gatehouse_masked';

const DATE_OID = 1082;
const TIMESTAMP_OIDS = new Set([1114, 1184]);

/** A SQL identifier, always quoted (so keywords and mixed case survive). */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Whether a strategy needs the keyed functions of `gatehouse db setup`. */
export function needsMaskFunctions(strategy: MaskStrategy): boolean {
  switch (strategy) {
    case 'hash':
    case 'fake_ssn':
    case 'fake_phone':
    case 'fake_email':
    case 'fake_date':
      return true;
    case 'redact':
    case 'null':
    case 'last4':
      return false;
    default: {
      const never: never = strategy;
      throw new Error(`unknown mask strategy ${String(never)}`);
    }
  }
}

/** A SQL string literal (standard_conforming_strings, which PostgreSQL has on since 9.1 and Gatehouse pins). */
function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** last4 in SQL: the C function's definition (extension/gatehouse_mask/gatehouse_mask.c), and its fallback. */
function last4Sql(ref: string, asText: string): string {
  const len = `pg_catalog.char_length(${asText})`;
  return (
    `CASE WHEN ${ref} IS NULL THEN NULL WHEN ${len} OPERATOR(pg_catalog.<=) 4 THEN pg_catalog.repeat('*', ${len}) ` +
    `ELSE pg_catalog.repeat('*', ${len} OPERATOR(pg_catalog.-) 4) OPERATOR(pg_catalog.||) pg_catalog."right"(${asText}, 4) END`
  );
}

/**
 * The masked expression for `column` under `strategy`, named like the column. A value of a type
 * the strategy cannot rewrite becomes NULL of the column's type; `hash` gives text for any type.
 * A NULL stays NULL under every strategy (null-ness is not masked). `domain` ("schema.table.column"
 * of the mask rule) separates the keyed strategies of one column from every other column's.
 * `functions.last4`: the database has the C last4 (same output, a fraction of the CPU); the SQL
 * expression otherwise (managed servers cannot load C).
 */
export function maskedColumn(column: ColumnInfo, strategy: MaskStrategy, domain: string, functions: Pick<MaskFunctions, 'last4'> = {}): string {
  return `${maskedExpression(column, strategy, domain, functions)} AS ${quoteIdent(column.name)}`;
}

/** maskedColumn's expression, unnamed: of type text under `hash`, of the column's type otherwise. */
export function maskedExpression(column: ColumnInfo, strategy: MaskStrategy, domain: string, functions: Pick<MaskFunctions, 'last4'> = {}): string {
  const ref = `${SOURCE_ALIAS}.${quoteIdent(column.name)}`;
  const dom = quoteLiteral(domain);
  const asText = `CAST(${ref} AS pg_catalog.text)`;
  const isString = column.category === 'S';
  const typed = (expr: string): string => `CAST(${expr} AS ${column.type})`;
  const nullOfType = typed('NULL');
  let expr: string;
  switch (strategy) {
    case 'null':
      expr = nullOfType;
      break;
    case 'redact':
      expr = isString ? typed(`CASE WHEN ${ref} IS NULL THEN NULL ELSE '***' END`) : nullOfType;
      break;
    case 'last4':
      expr = isString ? typed(functions.last4 === true ? `${LAST4_FUNCTION}(${asText})` : last4Sql(ref, asText)) : nullOfType;
      break;
    case 'hash':
      expr = `${HASH_FUNCTION}(${dom}, ${asText})`;
      break;
    case 'fake_ssn':
    case 'fake_phone':
    case 'fake_email': {
      const kind = strategy.slice('fake_'.length);
      expr = isString ? typed(`${FAKE_FUNCTION}('${kind}', ${dom}, ${asText})`) : nullOfType;
      break;
    }
    case 'fake_date':
      if (column.typeOid === DATE_OID) expr = `${FAKE_DATE_FUNCTION}(${dom}, ${ref})`;
      else if (TIMESTAMP_OIDS.has(column.typeOid)) expr = typed(`${FAKE_DATE_FUNCTION}(${dom}, CAST(${ref} AS pg_catalog.date))`);
      else expr = nullOfType;
      break;
    default: {
      const never: never = strategy;
      throw new Error(`unknown mask strategy ${String(never)}`);
    }
  }
  return expr;
}
