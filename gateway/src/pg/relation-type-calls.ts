// The user functions PostgreSQL may run on the values of a relation's columns without any of them
// being named, read with the relation snapshot (pg/relation-snapshot.ts): for each user type a
// column's type is or reaches (an array's element, a domain's base, a composite's attributes), the
// support functions and operators of its operator families (sorting, grouping, DISTINCT, UNION, IN,
// merge and hash joins, windows, index maintenance) and its implicit and assignment casts; for a
// built-in column type, the user code a superuser attached to it (type-calls-sql.ts
// BUILT_IN_TYPE_CODE); and the user members of the operator families of the relation's
// indexes and of its partitions' and children's (an index scan and index maintenance run them: an
// operator class FOR TYPE integer on a PL function, red-team round 14, R14-1). A statement that reads
// or writes the relation lists them in statement.user_functions: which of them a plan calls depends on
// the plan, so every one counts (masking14), also for a statement that uses none of those columns: not
// narrowed, since that would rest on predicting the planner (docs/policies.md; lock15).

import { BUILT_IN_TYPE_CODE, calledFunctions, COLUMN_TYPES, implicitTypeCalls } from './type-calls-sql.ts';

/** (relation, function) pairs, functions outside pg_catalog and information_schema. */
export const TYPE_CALLS = `${COLUMN_TYPES}, built_in_with_code AS (
    -- Only code that is not C or internal (an extension's C operator classes, btree_gist's, are harmless).
    SELECT DISTINCT x.type FROM (${BUILT_IN_TYPE_CODE}) x
      JOIN pg_catalog.pg_proc p ON p.oid = x.func JOIN pg_catalog.pg_language l ON l.oid = p.prolang
     WHERE l.lanname NOT IN ('c', 'internal')
  ), built_in_column AS (
    -- (relation, built-in type with user code) for its columns of that type or of an array of it.
    SELECT a.attrelid AS owner, b.type
      FROM pg_catalog.pg_attribute a
      JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
      JOIN built_in_with_code b ON b.type IN (t.oid, t.typelem)
     WHERE a.attnum > 0 AND NOT a.attisdropped
  ), index_owner AS (
    -- (index, relation a scan of which may use it): its table, and that table's ancestors.
    SELECT x.indexrelid AS index, x.indrelid AS owner FROM pg_catalog.pg_index x
    UNION
    SELECT o.index, i.inhparent FROM index_owner o JOIN pg_catalog.pg_inherits i ON i.inhrelid = o.owner
  ), index_family AS (
    SELECT DISTINCT o.owner, oc.opcfamily AS family
      FROM index_owner o
      JOIN pg_catalog.pg_index x ON x.indexrelid = o.index
      JOIN pg_catalog.pg_opclass oc ON oc.oid = ANY (x.indclass::oid[])
  ), deps AS (
    ${implicitTypeCalls('column_type')}
    UNION ALL
    ${implicitTypeCalls('built_in_column')}
    UNION ALL
    SELECT f.owner, 'pg_catalog.pg_proc'::regclass, ap.amproc::oid
      FROM index_family f JOIN pg_catalog.pg_amproc ap ON ap.amprocfamily = f.family
     WHERE ap.oid >= 16384
    UNION ALL
    SELECT f.owner, 'pg_catalog.pg_operator'::regclass, ao.amopopr
      FROM index_family f JOIN pg_catalog.pg_amop ao ON ao.amopfamily = f.family
     WHERE ao.oid >= 16384
  )
${calledFunctions('deps', 'rel')}`;
