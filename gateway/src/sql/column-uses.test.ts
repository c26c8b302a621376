import { beforeAll, describe, expect, it } from 'vitest';
import { analyzeQueryUncached, loadSqlParser } from './parser.ts';
import type { StatementUses } from './column-uses.ts';

beforeAll(loadSqlParser);

function usesOf(sql: string): StatementUses {
  const outcome = analyzeQueryUncached(sql, { searchPath: ['public'] });
  if (!outcome.ok) throw new Error(outcome.error);
  return outcome.statements[0]!.facts.uses();
}

/** Hidden uses as "table.column clause test", with " = peers" for equality; the public. prefix dropped. */
function hidden(sql: string): string[] {
  const short = (t: string): string => t.replace(/^public\./, '');
  return usesOf(sql)
    .hidden.map((u) => {
      const peers = u.peers.map((p) => `${short(p.table)}.${p.column}`).join(',');
      return `${short(u.table)}.${u.column} ${u.clause} ${u.test}${peers ? ` = ${peers}` : ''}`;
    })
    .sort();
}

/** Columns (table.column) used outside output expressions, whatever the clause. */
function hiddenColumns(sql: string): string[] {
  return [...new Set(usesOf(sql).hidden.map((u) => `${u.table.replace(/^public\./, '')}.${u.column}`))].sort();
}

describe('column uses: output expressions are not hidden uses', () => {
  it.each([
    'SELECT first_name, ssn FROM patients',
    'SELECT ssn, length(ssn), ssn || first_name AS x FROM patients',
    'SELECT p.* FROM patients p',
    'SELECT * FROM patients',
    'TABLE patients',
    'SELECT row_to_json(p), json_agg(p.*) OVER () FROM patients p',
    'SELECT (p).ssn, ssn(p) FROM patients p',
    'SELECT count(ssn), max(ssn), string_agg(ssn, \',\') FROM patients',
    'SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY ssn) FROM patients',
    'WITH x AS (SELECT ssn FROM patients) SELECT * FROM x',
    'SELECT x.s FROM (SELECT ssn AS s FROM patients) x',
    'SELECT diagnosis_code FROM patients UNION ALL SELECT ssn FROM patients',
    'SELECT (SELECT ssn FROM patients p WHERE p.id = v.patient_id) FROM visits v',
    'SELECT CASE WHEN ssn IS NULL THEN first_name END FROM patients',
    'VALUES ((SELECT ssn FROM patients LIMIT 1))',
    'EXPLAIN SELECT ssn FROM patients',
  ])('%s', (sql) => {
    expect(hiddenColumns(sql).filter((c) => c.endsWith('.ssn') || c.endsWith('.*') || c.endsWith('first_name'))).toEqual([]);
  });
});

describe('column uses: predicates, joins, grouping and ordering', () => {
  it('WHERE, and the red-team join that rebuilds a column character by character', () => {
    expect(hidden("SELECT id FROM patients WHERE ssn LIKE '1%'")).toEqual(['patients.ssn WHERE other']);
    expect(
      hiddenColumns(
        `SELECT p.id, val.id FROM clinical.patients p
           JOIN clinical.visits pos ON pos.id BETWEEN 1 AND 11
           JOIN clinical.visits val ON val.id = ascii(substr(p.ssn, pos.id, 1)) - 44`,
      ),
    ).toEqual(['clinical.patients.ssn', 'clinical.visits.id']);
  });

  it('ordinary keys are reported too (the rule only refuses masked ones)', () => {
    expect(hidden('SELECT first_name, ssn FROM patients WHERE id = $1 ORDER BY id')).toEqual(['patients.id ORDER BY other', 'patients.id WHERE other']);
  });

  it('GROUP BY and HAVING', () => {
    expect(hidden('SELECT count(*) FROM patients GROUP BY ssn HAVING max(phone) > 1')).toEqual(['patients.phone HAVING other', 'patients.ssn GROUP BY group']);
    expect(hidden('SELECT count(*) FROM patients GROUP BY ROLLUP (ssn, lower(email))')).toEqual([
      'patients.email GROUP BY other',
      'patients.ssn GROUP BY group',
    ]);
  });

  it('ORDER BY an output alias or position resolves to the column behind it', () => {
    expect(hiddenColumns('SELECT id, ssn AS s FROM patients ORDER BY s')).toContain('patients.ssn');
    expect(hiddenColumns('SELECT id, ssn FROM patients ORDER BY 2')).toEqual(['patients.ssn']);
    expect(hiddenColumns('SELECT id, ssn FROM patients ORDER BY 1')).toEqual(['patients.id']);
    expect(hiddenColumns('SELECT *, 1 FROM patients ORDER BY 2')).toEqual(['patients.*']);
    expect(hidden('SELECT ssn FROM patients ORDER BY ssn USING <')).toEqual(['patients.ssn ORDER BY other']);
  });

  it('DISTINCT, DISTINCT ON, and set operations that de-duplicate', () => {
    expect(hidden('SELECT DISTINCT ssn, lower(email) FROM patients')).toEqual(['patients.email DISTINCT other', 'patients.ssn DISTINCT group']);
    expect(hidden('SELECT DISTINCT ON (ssn) id FROM patients')).toEqual(['patients.ssn DISTINCT ON group']);
    expect(hidden('SELECT DISTINCT ON (1) ssn, id FROM patients')).toEqual(['patients.ssn DISTINCT ON group']);
    expect(hidden("SELECT ssn FROM patients INTERSECT SELECT '123-45-6789'")).toEqual(['patients.ssn INTERSECT group']);
    expect(hidden('SELECT ssn FROM patients UNION SELECT ssn FROM patients')).toEqual(['patients.ssn UNION group']);
    expect(hidden('SELECT ssn FROM patients UNION ALL SELECT ssn FROM patients')).toEqual([]);
    expect(hidden('SELECT ssn FROM patients UNION ALL SELECT phone FROM patients ORDER BY 1')).toEqual([
      'patients.phone ORDER BY other',
      'patients.ssn ORDER BY other',
    ]);
  });

  it('LIMIT and OFFSET with a subquery', () => {
    // Unqualified names in a subquery may also be columns of the outer level: both are listed.
    expect(hidden('SELECT id FROM visits LIMIT (SELECT ascii(ssn) FROM patients WHERE id = 1)')).toEqual([
      'patients.id WHERE other',
      'patients.ssn LIMIT other',
      'visits.id WHERE other',
      'visits.ssn LIMIT other',
    ]);
    expect(hiddenColumns('SELECT id FROM visits OFFSET (SELECT length(ssn) FROM patients LIMIT 1)')).toContain('patients.ssn');
  });

  it('windows: PARTITION BY groups, ORDER BY and frames are tested, named windows too', () => {
    expect(hidden('SELECT rank() OVER (PARTITION BY email ORDER BY ssn) FROM patients')).toEqual([
      'patients.email a window PARTITION BY group',
      'patients.ssn a window ORDER BY other',
    ]);
    expect(hidden('SELECT rank() OVER w FROM patients WINDOW w AS (ORDER BY phone)')).toEqual(['patients.phone a window ORDER BY other']);
    expect(hidden('SELECT lag(ssn) OVER (ORDER BY id) FROM patients')).toEqual(['patients.id a window ORDER BY other']);
  });

  it('aggregate FILTER and ORDER BY are tested; WITHIN GROUP is the aggregate input', () => {
    expect(hidden("SELECT count(*) FILTER (WHERE ssn LIKE '1%') FROM patients")).toEqual(['patients.ssn an aggregate FILTER other']);
    expect(hidden("SELECT string_agg(id::text, ',' ORDER BY ssn) FROM patients")).toEqual(['patients.ssn an aggregate ORDER BY other']);
  });

  it('subqueries in predicates: their output is a hidden use', () => {
    expect(hidden('SELECT id FROM visits WHERE patient_id IN (SELECT id FROM patients WHERE ssn > $1)')).toEqual([
      'patients.id WHERE other',
      'patients.ssn WHERE other',
      'visits.id WHERE other',
      'visits.patient_id WHERE other',
      'visits.ssn WHERE other',
    ]);
    expect(hiddenColumns("SELECT id FROM visits v WHERE EXISTS (SELECT 1 FROM patients p WHERE p.id = v.patient_id AND p.ssn LIKE '1%')")).toContain(
      'patients.ssn',
    );
    expect(hiddenColumns("SELECT id FROM visits v WHERE (SELECT ssn FROM patients p WHERE p.id = v.patient_id) > '5'")).toContain('patients.ssn');
  });

  it('a scalar subquery in the output keeps its output as output, its WHERE as hidden', () => {
    expect(hidden('SELECT (SELECT ssn FROM patients p WHERE p.id = v.patient_id) FROM visits v')).toEqual([
      'patients.id WHERE equal = visits.patient_id',
      'visits.patient_id WHERE equal = patients.id',
    ]);
    expect(hiddenColumns("SELECT (SELECT v2.id FROM visits v2 WHERE v2.id = ascii(p.ssn)) FROM patients p")).toContain('patients.ssn');
  });
});

describe('column uses: names through aliases, subqueries, CTEs and LATERAL', () => {
  it('a CTE column used in WHERE is the table column behind it', () => {
    expect(hidden("WITH x AS (SELECT id, ssn FROM patients) SELECT id FROM x WHERE ssn = '1'")).toEqual(['patients.ssn WHERE other']);
    expect(hidden("WITH x(a, b) AS (SELECT id, ssn FROM patients) SELECT a FROM x WHERE b = '1'")).toEqual(['patients.ssn WHERE other']);
    expect(hidden('WITH x AS (SELECT id, ssn FROM patients) SELECT ssn FROM x WHERE id = 1')).toEqual(['patients.id WHERE other']);
  });

  it('a star through a subquery keeps the table column names', () => {
    expect(hidden("SELECT x.id FROM (SELECT * FROM patients) x WHERE x.ssn = '1'")).toEqual(['patients.ssn WHERE other']);
    expect(hidden('SELECT x.ssn FROM (SELECT * FROM patients) x WHERE x.id = 1')).toEqual(['patients.id WHERE other']);
  });

  it('column aliases on a table or subquery cannot be mapped without the catalog: the whole row', () => {
    expect(hidden("SELECT s FROM patients AS p(i, m, f, l, s) WHERE s = '1'")).toEqual(['patients.* WHERE other']);
    expect(hidden("SELECT 1 FROM (SELECT * FROM patients) x(a, b) WHERE b = '1'")).toEqual(['patients.* WHERE other']);
    expect(hidden("SELECT 1 FROM (SELECT id, ssn FROM patients) x(a, b) WHERE b = '1'")).toEqual(['patients.ssn WHERE other']);
  });

  it('whole-row and field references', () => {
    expect(hidden('SELECT 1 FROM patients p WHERE p IS NOT NULL')).toEqual(['patients.* WHERE other', 'patients.p WHERE other']);
    expect(hidden("SELECT 1 FROM patients p WHERE (p).ssn = '1'")).toEqual(['patients.p WHERE other', 'patients.ssn WHERE other']);
  });

  it('LATERAL subqueries and FROM-clause functions', () => {
    expect(hidden('SELECT l.x FROM patients p, LATERAL (SELECT v.id AS x FROM visits v WHERE v.id = ascii(p.ssn)) l')).toEqual([
      'patients.ssn WHERE other',
      'visits.id WHERE other',
    ]);
    expect(hidden('SELECT l.s FROM visits v, LATERAL (SELECT ssn AS s FROM patients p WHERE p.id = v.patient_id) l')).toEqual([
      'patients.id WHERE equal = visits.patient_id',
      'visits.patient_id WHERE equal = patients.id',
    ]);
    expect(hidden('SELECT g FROM patients p, generate_series(1, ascii(p.ssn)) g')).toEqual(['patients.ssn a FROM-clause function other']);
    expect(hidden('SELECT u FROM patients p CROSS JOIN LATERAL unnest(ARRAY[p.ssn]) u')).toEqual(['patients.ssn a FROM-clause function other']);
  });

  it('recursive CTEs follow their own columns', () => {
    const sql = `WITH RECURSIVE r(n, s) AS (SELECT 1, ssn FROM patients WHERE id = 1
                   UNION ALL SELECT n + 1, s FROM r WHERE s > '5') SELECT n FROM r`;
    expect(hiddenColumns(sql)).toEqual(['patients.id', 'patients.ssn']);
  });

  it('a CTE shadowing a table name, and a nested WITH', () => {
    expect(hidden("WITH patients AS (SELECT id AS ssn FROM visits) SELECT 1 FROM patients WHERE ssn = '1'")).toEqual(['visits.id WHERE other']);
    expect(hiddenColumns("SELECT 1 FROM (WITH y AS (SELECT ssn FROM patients) SELECT * FROM y) z WHERE z.ssn = '1'")).toEqual(['patients.ssn']);
  });

  it('set operations carry each arm into the merged column', () => {
    expect(hidden("SELECT 1 FROM (SELECT id FROM visits UNION ALL SELECT ssn FROM patients) u WHERE u.id = '1'")).toEqual([
      'patients.ssn WHERE other',
      'visits.id WHERE other',
    ]);
  });
});

describe('column uses: equality and grouping of plain columns (for hash masks)', () => {
  it('= between two plain columns is an equality with peers', () => {
    expect(hidden('SELECT a.id FROM patients a JOIN patients b ON a.email = b.email')).toEqual(['patients.email JOIN equal = patients.email']);
    expect(hidden('SELECT 1 FROM patients a, contacts c WHERE a.email = c.email')).toEqual([
      'contacts.email WHERE equal = patients.email',
      'patients.email WHERE equal = contacts.email',
    ]);
  });

  it('= with a literal, a parameter or an expression is not', () => {
    expect(hidden("SELECT 1 FROM patients WHERE email = 'a@b.c'")).toEqual(['patients.email WHERE other']);
    expect(hidden('SELECT 1 FROM patients a, contacts c WHERE lower(a.email) = c.email')).toEqual([
      'contacts.email WHERE other',
      'patients.email WHERE other',
    ]);
    expect(hidden("SELECT 1 FROM patients a JOIN (VALUES ('x')) g(e) ON a.email = g.e")).toEqual(['patients.email JOIN other']);
  });

  it('JOIN USING compares the columns of both sides; NATURAL joins compare unknown columns', () => {
    expect(hidden('SELECT 1 FROM patients JOIN contacts USING (email)')).toEqual([
      'contacts.email JOIN USING equal = patients.email',
      'patients.email JOIN USING equal = contacts.email',
    ]);
    expect(hidden('SELECT 1 FROM patients NATURAL JOIN contacts')).toEqual(['contacts.* NATURAL JOIN other', 'patients.* NATURAL JOIN other']);
  });

  it('a set-operation or VALUES column is plain only when every arm or row is a plain column', () => {
    const union = (arm: string): string[] =>
      hidden(`SELECT p.id FROM patients p JOIN (SELECT q.mrn AS m FROM patients q UNION ALL ${arm}) g ON p.mrn = g.m`);
    expect(union('SELECT r.email FROM patients r')).toEqual([
      'patients.email JOIN equal = patients.mrn',
      'patients.mrn JOIN equal = patients.mrn',
      'patients.mrn JOIN equal = patients.mrn,patients.email',
    ]);
    for (const arm of ["SELECT 'guess'", 'SELECT $1', 'SELECT lower(r.mrn) FROM patients r', 'SELECT NULL']) {
      expect(union(arm), arm).toEqual(['patients.mrn JOIN other']);
    }
    expect(hidden("SELECT p.id FROM patients p, LATERAL (VALUES (p.mrn), ('guess')) g(m) WHERE p.mrn = g.m")).toEqual(['patients.mrn WHERE other']);
    expect(hidden('SELECT p.id FROM patients p, LATERAL (VALUES (p.mrn), (p.email)) g(m) WHERE p.mrn = g.m')).toEqual([
      'patients.email WHERE equal = patients.mrn',
      'patients.mrn WHERE equal = patients.mrn',
      'patients.mrn WHERE equal = patients.mrn,patients.email',
    ]);
  });

  it('a name that may be a derived column holding no table column is not plain', () => {
    expect(hidden("SELECT p.id FROM patients p WHERE EXISTS (SELECT 1 FROM (SELECT 'g' AS mrn) g WHERE p.mrn = mrn)")).toEqual([
      'patients.mrn WHERE other',
    ]);
    expect(hidden('SELECT p.id FROM patients p WHERE EXISTS (SELECT 1 FROM unnest(ARRAY[1]) AS mrn WHERE p.mrn = mrn)')).toEqual([
      'patients.mrn WHERE other',
    ]);
  });

  it('grouping through a subquery stays plain; through an expression it does not', () => {
    expect(hidden('SELECT count(*) FROM (SELECT email FROM patients) x GROUP BY x.email')).toEqual(['patients.email GROUP BY group']);
    expect(hidden('SELECT count(*) FROM (SELECT lower(email) AS email FROM patients) x GROUP BY x.email')).toEqual(['patients.email GROUP BY other']);
  });
});

describe('column uses: routines', () => {
  it('functions, with schema when written, and column notation', () => {
    const u = usesOf("SELECT pg_catalog.pg_notify('c', ssn), set_config('a.b', ssn, false), ssn(p) FROM patients p");
    expect(u.functions).toEqual([
      { schema: 'pg_catalog', name: 'pg_notify', columnNotation: false },
      { schema: null, name: 'set_config', columnNotation: false },
      { schema: null, name: 'ssn', columnNotation: true },
    ]);
  });

  it('operators, including the implicit ones of BETWEEN, IN, CASE and USING', () => {
    const ops = (sql: string): string[] => usesOf(sql).operators.map((o) => (o.schema === null ? o.name : `${o.schema}.${o.name}`)).sort();
    expect(ops('SELECT a + b, c OPERATOR(public.###) d FROM t')).toEqual(['+', 'public.###']);
    expect(ops('SELECT 1 FROM t WHERE a BETWEEN 1 AND 2')).toEqual(['<', '<=', '>', '>=']);
    expect(ops('SELECT a IN (1, 2), CASE a WHEN 1 THEN 2 END FROM t')).toEqual(['=']);
    expect(ops('SELECT 1 FROM t JOIN u USING (a)')).toEqual(['=']);
    expect(ops('SELECT a = ANY (SELECT 1), a < ALL (SELECT 2) FROM t')).toEqual(['<', '=']);
  });

  it('types of casts and column definitions, and field names that may be function calls', () => {
    const u = usesOf('SELECT a::public.mydomain, CAST(b AS text), t.c, (d).e FROM t, json_to_record(x) AS r(f int)');
    expect(u.types.map((t) => `${t.schema ?? ''}.${t.name}`).sort()).toEqual(['.text', 'pg_catalog.int4', 'public.mydomain']);
    expect(u.fields.sort()).toEqual(['c', 'e']);
  });

  it('output calls list the columns passed to each function (for set-returning ones)', () => {
    const u = usesOf('SELECT v.id, generate_series(1, ascii(ssn)) FROM patients, visits v');
    expect(u.outputCalls.map((c) => `${c.function.name}: ${c.columns.map((x) => `${x.table}.${x.column}`).join(',')}`).sort()).toEqual([
      'ascii: public.patients.ssn,public.visits.ssn',
      'generate_series: public.patients.ssn,public.visits.ssn',
    ]);
  });
});

describe('column uses: other statements', () => {
  it('EXPLAIN, PREPARE and DECLARE analyse their query', () => {
    expect(hidden("EXPLAIN ANALYZE SELECT 1 FROM patients WHERE ssn < '5'")).toEqual(['patients.ssn WHERE other']);
    expect(hidden("DECLARE c CURSOR FOR SELECT 1 FROM patients WHERE ssn < '5'")).toEqual(['patients.ssn WHERE other']);
  });

  it('queries nested in other statements count as hidden uses', () => {
    expect(hiddenColumns('INSERT INTO visits (id) SELECT ssn::int FROM patients')).toEqual(['patients.ssn']);
  });

  it('an empty statement has none', () => {
    expect(usesOf('')).toEqual({ hidden: [], computed: [], outputCalls: [], outputFields: [], functions: [], fields: [], operators: [], types: [] });
  });
});

/** Operations on columns in output expressions, as "table.column: operation". */
function computed(sql: string): string[] {
  return usesOf(sql)
    .computed.map((c) => `${c.table.replace(/^public\./, '')}.${c.column}: ${c.operation}`)
    .sort();
}

describe('column uses: computations in output expressions (R3-1)', () => {
  it.each([
    'SELECT ssn, p.ssn AS s, (p).ssn, ssn(p), p.* FROM patients p',
    'SELECT x.s FROM (SELECT ssn AS s FROM patients) x',
    'WITH x AS (SELECT ssn FROM patients UNION ALL SELECT ssn FROM patients) SELECT * FROM x',
    'SELECT (SELECT p.ssn) FROM patients p',
    'SELECT upper(diagnosis_code), count(*), 1 + 2 FROM patients GROUP BY 1',
  ])('passes plain references through: %s', (sql) => {
    expect(computed(sql).filter((c) => c.includes('ssn'))).toEqual([]);
  });

  it('records the innermost operation applied to each column, at any query level', () => {
    expect(computed("SELECT md5(repeat('x', (ascii(substr(ssn, 2, 1)) - 48) * 4000000)) FROM patients")).toEqual(['patients.ssn: function substr']);
    expect(computed("SELECT CASE WHEN ssn LIKE '1%' THEN 1/0 END FROM patients")).toEqual(['patients.ssn: LIKE (operator ~~)']);
    expect(computed('SELECT ssn::text, phone || mrn FROM patients')).toEqual(['patients.mrn: operator ||', 'patients.phone: operator ||', 'patients.ssn: a cast']);
    expect(computed('SELECT id FROM (SELECT id, md5(ssn) AS h FROM patients) x')).toEqual(['patients.ssn: function md5']);
    expect(computed('SELECT lag(ssn) OVER (ORDER BY id) FROM patients')).toEqual(['patients.ssn: window function lag']);
  });

  it('counts a whole-row reference as computing on every column', () => {
    // `p` may also be a column of patients named p (PostgreSQL prefers a column): both are recorded.
    expect(computed('SELECT p FROM patients p')).toEqual(['patients.*: a whole-row reference', 'patients.p: a whole-row reference']);
    // f(p) has the shape of column notation for p.f: recorded as a possible call on the row (see below).
    expect(computed('SELECT row_to_json(p) FROM patients p')).toEqual([]);
    expect(usesOf('SELECT row_to_json(p) FROM patients p').outputFields.map((f) => f.function.name)).toEqual(['row_to_json']);
    expect(computed('SELECT json_agg(p.*) OVER () FROM patients p')).toEqual(['patients.*: a whole-row reference']);
    expect(computed('SELECT x FROM (SELECT ssn FROM patients) x')).toEqual(['patients.ssn: a whole-row reference']);
  });

  it('records p.f and (p).f in the output as a possible call f(p)', () => {
    const fields = usesOf('SELECT p.row_to_json, (p).ssn FROM patients p').outputFields.map((f) => `${f.function.name}(${f.columns.map((c) => c.column).join()})`);
    expect(fields.sort()).toEqual(['row_to_json(*)', 'ssn(*)']);
  });
});
