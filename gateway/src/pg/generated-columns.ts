// The columns each generated column of a user table is computed from (red-team round 21a, R21a-2): a
// stored generated column over a masked column is a derived copy of it, which the mask rewrite and the
// write rules must treat as that column (enforce/generated-masks.ts). PostgreSQL records the expression's
// columns in pg_depend: from the column's pg_attrdef row (PostgreSQL 12 to 15), or from the column itself;
// both are read. A generated column cannot use another generated column or a whole-row reference.

/**
 * A `json_build_object` entry for the column `a` (pg_attribute) of the relation snapshot's column list
 * (pg/relation-snapshot.ts): `'generatedFrom', [columns]` for a generated column, NULL otherwise (the
 * list is passed through json_strip_nulls, so the key is then absent).
 */
export const GENERATED_FROM = `'generatedFrom', CASE WHEN a.attgenerated <> '' THEN ARRAY(
           SELECT s.attname::text FROM pg_catalog.pg_attribute s
            WHERE s.attrelid = a.attrelid AND s.attnum > 0 AND s.attnum <> a.attnum AND NOT s.attisdropped AND s.attnum IN (
                  SELECT d.refobjsubid FROM pg_catalog.pg_depend d
                    LEFT JOIN pg_catalog.pg_attrdef ad ON d.classid = 'pg_catalog.pg_attrdef'::regclass AND ad.oid = d.objid
                   WHERE d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid = a.attrelid
                     AND ((ad.adrelid = a.attrelid AND ad.adnum = a.attnum)
                          OR (d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = a.attrelid AND d.objsubid = a.attnum)))
            ORDER BY s.attnum) END`;
