// The user functions PostgreSQL may run on the values of a relation's columns without any of them
// being named, read with the relation snapshot (pg/relation-snapshot.ts): for each user type a
// column's type is or reaches (an array's element, a domain's base, a composite's attributes), the
// support functions and operators of its operator families (sorting, grouping, DISTINCT, UNION, IN,
// merge and hash joins, windows, index maintenance) and its implicit and assignment casts. A
// statement that reads or writes the relation lists them in statement.user_functions: which of them
// a plan calls depends on the plan, so every one counts (masking14).

import { calledFunctions, COLUMN_TYPES, implicitTypeCalls } from './type-calls-sql.ts';

/** (relation, function) pairs, functions outside pg_catalog and information_schema. */
export const TYPE_CALLS = `${COLUMN_TYPES}, deps AS (
    ${implicitTypeCalls('column_type')}
  )
${calledFunctions('deps', 'rel')}`;
