// SQL for the red-team probes of user code PostgreSQL picks by type alone: btree operator classes on PL
// functions that RAISE the SSN of patient 1 in a NOTICE, so a test sees whether one ran. Each object's
// name starts with the test's prefix (rt14, ...), so test files on one database do not meet.

/** A non-default operator class `${p}_int_ops` FOR TYPE integer (only an index naming it uses it); its support function says 'compared next to <ssn>'. */
export function intOperatorClassSql(p: string): string {
  return `
CREATE FUNCTION public.${p}_int_cmp(integer, integer) RETURNS integer LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  RAISE NOTICE 'compared next to %', (SELECT ssn FROM clinical.patients WHERE id = 1);
  RETURN btint4cmp($1, $2);
END $$;
CREATE OPERATOR CLASS public.${p}_int_ops FOR TYPE integer USING btree AS
  OPERATOR 1 <, OPERATOR 2 <=, OPERATOR 3 =, OPERATOR 4 >=, OPERATOR 5 >,
  FUNCTION 1 public.${p}_int_cmp(integer, integer);
`;
}

/** json's DEFAULT btree operator class `${p}_json_ops` (json has none of its own), operators `<op`, `<=op`, ...; its compare function says 'sorted next to <ssn>'. */
export function jsonDefaultOperatorClassSql(p: string, op: string): string {
  const compare = (name: string, test: string): string =>
    `CREATE FUNCTION public.${p}_json_${name}(json, json) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT public.${p}_json_cmp($1, $2) ${test} 0 $$;`;
  const operator = (symbol: string, name: string): string => `CREATE OPERATOR public.${symbol}${op} (LEFTARG = json, RIGHTARG = json, FUNCTION = public.${p}_json_${name});`;
  return `
CREATE FUNCTION public.${p}_json_cmp(json, json) RETURNS integer LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  RAISE NOTICE 'sorted next to %', (SELECT ssn FROM clinical.patients WHERE id = 1);
  RETURN bttextcmp($1::text, $2::text);
END $$;
${[compare('lt', '<'), compare('le', '<='), compare('eq', '='), compare('ge', '>='), compare('gt', '>')].join('\n')}
${[operator('<', 'lt'), operator('<=', 'le'), operator('=', 'eq'), operator('>=', 'ge'), operator('>', 'gt')].join('\n')}
CREATE OPERATOR CLASS public.${p}_json_ops DEFAULT FOR TYPE json USING btree AS
  OPERATOR 1 public.<${op}, OPERATOR 2 public.<=${op}, OPERATOR 3 public.=${op}, OPERATOR 4 public.>=${op}, OPERATOR 5 public.>${op},
  FUNCTION 1 public.${p}_json_cmp(json, json);
`;
}

/** Drops what the two above make (whichever exist), with what depends on them. */
export function dropOperatorClassesSql(p: string, op: string): string {
  return `
DROP OPERATOR CLASS IF EXISTS public.${p}_int_ops USING btree CASCADE;
DROP OPERATOR FAMILY IF EXISTS public.${p}_int_ops USING btree CASCADE;
DROP OPERATOR CLASS IF EXISTS public.${p}_json_ops USING btree CASCADE;
DROP OPERATOR FAMILY IF EXISTS public.${p}_json_ops USING btree CASCADE;
DROP OPERATOR IF EXISTS public.<${op} (json, json), public.<=${op} (json, json), public.=${op} (json, json), public.>=${op} (json, json), public.>${op} (json, json);
DROP FUNCTION IF EXISTS public.${p}_int_cmp(integer, integer), public.${p}_json_cmp(json, json),
  public.${p}_json_lt(json, json), public.${p}_json_le(json, json), public.${p}_json_eq(json, json),
  public.${p}_json_ge(json, json), public.${p}_json_gt(json, json) CASCADE;
`;
}

/**
 * The tables of red-team rounds 16 and 16b (`public.pgbench_${p}_*`), with json's default operator class
 * (jsonDefaultOperatorClassSql): a text table a migration turns into json (`alter`), a table whose row an
 * earlier statement of the agent's string waits for (`warm`), one dropped between a string's decision and
 * its start (`drop`), a list-partitioned table of 200 partitions (`parted`) and a view over a table the
 * agent is not told of (`view` over `vbase`).
 */
export function migrationTablesSql(p: string): { cleanup: string; setup: string } {
  const cleanup = `
DROP VIEW IF EXISTS public.pgbench_${p}_view;
DROP TABLE IF EXISTS public.pgbench_${p}_vbase, public.pgbench_${p}_alter, public.pgbench_${p}_warm, public.pgbench_${p}_drop, public.pgbench_${p}_parted CASCADE;
${dropOperatorClassesSql(p, '%%')}
`;
  const setup = `
-- As in round 15: json gets a default btree operator class on a PL function that raises the SSN it reads.
${jsonDefaultOperatorClassSql(p, '%%')}
-- Text now; a migration turns it into json.
CREATE TABLE public.pgbench_${p}_alter (id integer, v text);
INSERT INTO public.pgbench_${p}_alter VALUES (1, '{"a": 1}'), (2, '{"b": 2}');
-- A table whose row an earlier statement of the agent's string waits for.
CREATE TABLE public.pgbench_${p}_warm (id integer PRIMARY KEY, v text);
INSERT INTO public.pgbench_${p}_warm SELECT g, 'x' FROM generate_series(1, 100) g;
-- A table dropped between a string's decision and its start.
CREATE TABLE public.pgbench_${p}_drop (id integer, v text);
-- A list-partitioned table of 200 partitions: a query naming one key is planned (and locked) on one.
CREATE TABLE public.pgbench_${p}_parted (k integer, v text) PARTITION BY LIST (k);
DO $$ BEGIN
  FOR i IN 1..200 LOOP
    EXECUTE format('CREATE TABLE public.pgbench_${p}_parted_%s PARTITION OF public.pgbench_${p}_parted FOR VALUES IN (%s)', i, i);
  END LOOP;
END $$;
-- A view the agent may read, over a table it is not told of.
CREATE TABLE public.pgbench_${p}_vbase (id integer, v text);
CREATE VIEW public.pgbench_${p}_view AS SELECT id, v FROM public.pgbench_${p}_vbase;
INSERT INTO public.pgbench_${p}_parted SELECT g, 'p' FROM generate_series(1, 200) g;
`;
  return { cleanup, setup };
}
