import { beforeAll, describe, expect, it } from 'vitest';
import type { Decision, MaskRule } from '../policy/types.ts';
import { analyzeQueryUncached, loadSqlParser } from '../sql/parser.ts';
import type { ParsedStatement } from '../sql/facts.ts';
import { maskSideChannelRefusal, sideChannelOf } from './mask-side-channels.ts';
import { RoutineCatalog, type RoutineRow } from './routine-catalog.ts';

beforeAll(loadSqlParser);

const masks: MaskRule[] = [
  { table: 'clinical.patients', column: 'ssn', strategy: 'redact', policy: 'clinical-read-masked' },
  { table: 'clinical.patients', column: 'first_name', strategy: 'redact', policy: 'clinical-read-masked' },
  { table: 'clinical.patients', column: 'phone', strategy: 'last4', policy: 'clinical-read-masked' },
  { table: 'clinical.patients', column: 'email', strategy: 'hash', policy: 'clinical-read-masked' },
  { table: 'clinical.patients', column: 'mrn', strategy: 'hash', policy: 'clinical-read-masked' },
];

function decision(action: Decision['action'] = 'mask'): Decision {
  return {
    action,
    reason: 'test',
    policies: ['clinical-read-masked'],
    masks: action === 'mask' ? masks : [],
    id: 'd-1',
    engine: 'rego',
    revision: 'r1',
    evalMicros: 0,
  };
}

const fn = (schema: string, name: string, harmless = true, retset = false): RoutineRow => ({ kind: 'function', schema, name, harmless, retset });
const op = (schema: string, name: string, harmless = true): RoutineRow => ({ kind: 'operator', schema, name, harmless, retset: false });
const type = (schema: string, name: string, harmless = true): RoutineRow => ({ kind: 'type', schema, name, harmless, retset: false });

/** A small stand-in for the server's catalog (the real one is exercised in gateway/test/mask-side-channels.test.ts). */
const catalog = new RoutineCatalog([
  ...['length', 'lower', 'upper', 'ascii', 'substr', 'count', 'row_to_json', 'json_agg', 'random', 'now', 'md5', 'repeat', 'lag', 'right'].map((n) => fn('pg_catalog', n)),
  fn('pg_catalog', 'generate_series', true, true),
  fn('pg_catalog', 'unnest', true, true),
  fn('pg_catalog', 'pg_notify', false),
  fn('pg_catalog', 'set_config', false),
  fn('pg_catalog', 'setval', false),
  fn('pg_catalog', 'lo_from_bytea', false),
  fn('pg_catalog', 'pg_advisory_lock', false),
  fn('public', 'leak', false),
  fn('public', 'lower', false), // a user overload of a builtin name
  ...['=', '<', '<=', '>', '>=', '-', '+', '*', '/', '~~', '||'].map((n) => op('pg_catalog', n)),
  op('public', '###', false),
  ...['text', 'int4', 'varchar'].map((n) => type('pg_catalog', n)),
  type('public', 'mydomain', false),
]);

function parsed(sql: string): ParsedStatement {
  const outcome = analyzeQueryUncached(sql, { searchPath: ['public'] });
  if (!outcome.ok) throw new Error(outcome.error);
  return outcome.statements[0]!;
}

/** The refusal message for `sql` under the mask, or null when it may run. */
function refused(sql: string, routines: RoutineCatalog | null = catalog): string | null {
  return sideChannelOf(parsed(sql).facts.uses(), decision(), routines)?.message ?? null;
}

describe('masked columns outside output expressions (B7)', () => {
  it('refuses the red-team join that rebuilds SSNs, naming the column and the clause', () => {
    const msg = refused(`SELECT p.id, val.id FROM clinical.patients p
      JOIN clinical.visits pos ON pos.id BETWEEN 1 AND 11
      JOIN clinical.visits val ON val.id = ascii(substr(p.ssn, pos.id, 1)) - 44`);
    expect(msg).toContain('clinical.patients.ssn');
    expect(msg).toContain('JOIN');
  });

  it.each([
    ["SELECT id FROM clinical.patients WHERE ssn LIKE '1%'", 'WHERE'],
    ['SELECT count(*) FROM clinical.patients GROUP BY ssn', 'GROUP BY'],
    ['SELECT id FROM clinical.patients ORDER BY phone', 'ORDER BY'],
    ['SELECT id, ssn FROM clinical.patients ORDER BY 2', 'ORDER BY'],
    ['SELECT DISTINCT first_name FROM clinical.patients', 'DISTINCT'],
    ['SELECT rank() OVER (ORDER BY ssn) FROM clinical.patients', 'window'],
    ['SELECT id FROM clinical.visits LIMIT (SELECT ascii(ssn) - 40 FROM clinical.patients WHERE id = 1)', 'LIMIT'],
    ["SELECT id FROM clinical.visits v WHERE EXISTS (SELECT 1 FROM clinical.patients p WHERE p.id = v.patient_id AND p.ssn > '5')", 'WHERE'],
    ['SELECT g FROM clinical.patients p, generate_series(1, ascii(p.ssn)) g', 'FROM-clause function'],
    ["WITH x AS (SELECT id, ssn AS s FROM clinical.patients) SELECT id FROM x WHERE s > '5'", 'WHERE'],
    ["SELECT ssn FROM clinical.patients INTERSECT SELECT '123-45-6789'", 'INTERSECT'],
  ])('%s → refused (%s)', (sql, clause) => {
    expect(refused(sql)).toContain(clause);
  });

  it('refuses a whole-row or column-aliased reference to a masked table in a predicate', () => {
    expect(refused('SELECT 1 FROM clinical.patients p WHERE p IS NOT NULL')).toContain('whole row');
    expect(refused("SELECT 1 FROM clinical.patients AS p(i, m, f, l, s) WHERE s = '1'")).toContain('whole row');
  });

  it('refuses a masked column passed to a set-returning function in the output', () => {
    expect(refused('SELECT id, generate_series(1, ascii(ssn)) FROM clinical.patients')).toContain('set-returning function generate_series');
    expect(refused('SELECT ssn, generate_series(1, 3) FROM clinical.patients')).toBeNull();
  });

  it.each([
    'SELECT first_name, ssn FROM clinical.patients WHERE id = $1',
    'SELECT id, ssn, phone FROM clinical.patients ORDER BY id LIMIT 5',
    'SELECT v.visit_date, p.ssn FROM clinical.visits v JOIN clinical.patients p ON p.id = v.patient_id WHERE p.id = 3',
    'SELECT count(*) FROM clinical.patients',
    'SELECT ssn, length(diagnosis_code), substr(last_name, 1, 1) FROM clinical.patients',
    'SELECT (p).ssn, ssn(p), p.ssn, p.* FROM clinical.patients p',
    'SELECT x.s AS masked FROM (SELECT ssn AS s FROM clinical.patients) x',
    'WITH x AS (SELECT ssn FROM clinical.patients UNION ALL SELECT ssn FROM clinical.patients) SELECT ssn FROM x',
    'SELECT (SELECT p.ssn) AS s FROM clinical.patients p',
    'WITH x AS (SELECT id, ssn FROM clinical.patients) SELECT ssn FROM x WHERE id = 1',
    'SELECT diagnosis_code, count(*) FROM clinical.patients GROUP BY diagnosis_code',
  ])('lets ordinary masked reads run: %s', (sql) => {
    expect(refused(sql)).toBeNull();
  });

  it('applies only while a mask applies', () => {
    const uses = parsed("SELECT id FROM clinical.patients WHERE ssn LIKE '1%'").facts.uses();
    expect(sideChannelOf(uses, decision('allow'), catalog)).toBeNull();
    expect(sideChannelOf(uses, decision('mask'), catalog)).not.toBeNull();
    // A mask on another table does not restrict this one.
    const other: Decision = { ...decision(), masks: [{ table: 'clinical.visits', column: 'reason', strategy: 'redact', policy: 'clinical-read-masked' }] };
    expect(sideChannelOf(uses, other, catalog)).toBeNull();
  });
});

describe('hash-masked columns: equality with other hash-masked columns, no grouping', () => {
  it.each([
    'SELECT a.id FROM clinical.patients a JOIN clinical.patients b ON a.email = b.email',
    'SELECT a.id FROM clinical.patients a JOIN clinical.patients b ON a.email = b.mrn',
    'SELECT a.id FROM clinical.patients a JOIN clinical.patients b USING (email)',
    'SELECT p.id FROM clinical.patients p JOIN (SELECT q.mrn AS m FROM clinical.patients q UNION ALL SELECT r.mrn FROM clinical.patients r) g ON p.mrn = g.m',
    'SELECT p.id FROM clinical.patients p, LATERAL (VALUES (p.mrn), (p.email)) g(m) WHERE p.mrn = g.m',
  ])('allowed: %s', (sql) => {
    expect(refused(sql)).toBeNull();
  });

  it.each([
    "SELECT id FROM clinical.patients WHERE email = 'a@example.com'",
    'SELECT id FROM clinical.patients WHERE email = $1',
    'SELECT id FROM clinical.patients ORDER BY email',
    'SELECT a.id FROM clinical.patients a JOIN clinical.visits v ON a.email = v.reason',
    'SELECT a.id FROM clinical.patients a JOIN clinical.patients b ON lower(a.email) = b.email',
    'SELECT a.id FROM clinical.patients a JOIN clinical.patients b ON a.email = b.ssn',
    "SELECT a.id FROM clinical.patients a JOIN (VALUES ('a@example.com')) g(e) ON a.email = g.e",
    // R3: a set-operation arm or VALUES row with a literal makes the column possibly the literal.
    "SELECT p.id FROM clinical.patients p JOIN (SELECT q.mrn AS m FROM clinical.patients q UNION ALL SELECT 'MRN-100007') g ON p.mrn = g.m",
    "SELECT p.id FROM clinical.patients p JOIN (SELECT 'MRN-100007' UNION ALL SELECT q.mrn AS m FROM clinical.patients q) g(m) ON p.mrn = g.m",
    'SELECT p.id FROM clinical.patients p JOIN (SELECT q.mrn AS m FROM clinical.patients q UNION ALL SELECT $1) g ON p.mrn = g.m',
    "SELECT p.id FROM clinical.patients p, LATERAL (VALUES (p.mrn), ('MRN-100007')) g(m) WHERE p.mrn = g.m",
    "WITH RECURSIVE g(m) AS (SELECT 'MRN-100007' UNION ALL SELECT m FROM g WHERE false) SELECT p.id FROM clinical.patients p JOIN g ON p.mrn = g.m",
    // An unqualified name PostgreSQL resolves to a nearer derived column holding a literal.
    "SELECT p.id FROM clinical.patients p WHERE EXISTS (SELECT 1 FROM (SELECT 'MRN-100007' AS mrn) g WHERE p.mrn = mrn)",
    "SELECT p.id FROM clinical.patients p WHERE EXISTS (SELECT 1 FROM unnest(ARRAY['MRN-100007']) AS mrn WHERE p.mrn = mrn)",
    // R5: grouping sorts (or hashes) by the raw values, which orders the result.
    'SELECT DISTINCT ON (email) id FROM clinical.patients',
    'SELECT count(*) FROM clinical.patients GROUP BY email',
    'SELECT email FROM clinical.patients GROUP BY email, diagnosis_code ORDER BY diagnosis_code',
    'SELECT DISTINCT email FROM clinical.patients',
    'SELECT count(*) OVER (PARTITION BY mrn) FROM clinical.patients',
    'SELECT mrn FROM clinical.patients UNION SELECT mrn FROM clinical.patients',
  ])('refused: %s', (sql) => {
    expect(refused(sql)).toContain('masked column clinical.patients.');
  });
});

describe('computed masked outputs (R3-1: time and errors depend on the value)', () => {
  it.each([
    ["SELECT id, md5(repeat('x', (ascii(substr(ssn, 2, 1)) - 48) * 4000000)) AS z FROM clinical.patients", 'function substr'],
    ["SELECT CASE WHEN ssn LIKE '1%' THEN 1/0 END FROM clinical.patients", 'LIKE'],
    ['SELECT length(ssn) FROM clinical.patients', 'function length'],
    ['SELECT ssn::text FROM clinical.patients', 'a cast'],
    ["SELECT ssn || 'x' FROM clinical.patients", 'operator ||'],
    ['SELECT count(ssn) FROM clinical.patients', 'function count'],
    ['SELECT lag(ssn) OVER (ORDER BY id) FROM clinical.patients', 'window function lag'],
    ['SELECT row(ssn) FROM clinical.patients', 'row constructor'],
    ['SELECT array[ssn] FROM clinical.patients', 'ARRAY constructor'],
    ['SELECT ssn COLLATE "C" FROM clinical.patients', 'COLLATE'],
    ['SELECT ssn IS NULL FROM clinical.patients', 'IS NULL'],
    ["SELECT ssn IN (SELECT '1') FROM clinical.patients", 'subquery comparison'],
    ['SELECT ARRAY(SELECT ssn FROM clinical.patients)', 'ARRAY(subquery)'],
    ['SELECT coalesce(mrn, id::text) FROM clinical.patients', 'COALESCE'],
    ['SELECT upper(x.s) FROM (SELECT email AS s FROM clinical.patients) x', 'masked column clinical.patients.email'],
    ['SELECT x.s FROM (SELECT length(phone) AS s FROM clinical.patients) x', 'masked column clinical.patients.phone'],
    ['SELECT id FROM (SELECT id, md5(ssn) AS h FROM clinical.patients) x', 'function md5'],
    ['WITH x AS MATERIALIZED (SELECT id, ascii(ssn) AS a FROM clinical.patients) SELECT id FROM x', 'function ascii'],
    ['SELECT ssn FROM clinical.patients UNION ALL SELECT md5(ssn) FROM clinical.patients', 'function md5'],
    ['SELECT (SELECT length(p.ssn)) FROM clinical.patients p', 'function length'],
    ['SELECT p FROM clinical.patients p', 'whole row of masked table clinical.patients'],
    ['SELECT row_to_json(p) FROM clinical.patients p', 'whole row'],
    ['SELECT json_agg(p) FROM clinical.patients p', 'whole row'],
    ['SELECT count(p.*) FROM clinical.patients p', 'whole row'],
    ['SELECT x FROM (SELECT ssn FROM clinical.patients) x', 'whole row of masked table clinical.patients'],
    ['SELECT p.row_to_json FROM clinical.patients p', 'function row_to_json applied to a whole row'],
    ['SELECT (p).row_to_json FROM clinical.patients p', 'function row_to_json applied to a whole row'],
    ['SELECT row_to_json(p) FROM clinical.patients p', 'whole row'],
  ])('%s → refused (%s)', (sql, what) => {
    const msg = refused(sql);
    expect(msg).toContain(what);
    expect(msg).toContain('select the column itself');
  });

  it('names the column and counts every strategy (hash and last4 too)', () => {
    expect(refused('SELECT md5(mrn) FROM clinical.patients')).toContain('masked column clinical.patients.mrn is computed on in the output (function md5)');
    expect(refused("SELECT right(phone, 4) FROM clinical.patients")).toContain('clinical.patients.phone');
  });

  it('lets computations on unmasked columns, and on masked tables\' unmasked columns, run', () => {
    expect(refused("SELECT id + 1, upper(last_name), CASE WHEN diagnosis_code LIKE 'E%' THEN 1 END, count(*) FROM clinical.patients GROUP BY 1, 2, 3")).toBeNull();
    expect(refused('SELECT row_to_json(v), length(v.reason) FROM clinical.visits v')).toBeNull();
  });

  it('refuses a whole row even without a routine catalog', () => {
    expect(refused('SELECT p FROM clinical.patients p', null)).toContain('whole row');
  });
});

describe('routines with side effects (B9)', () => {
  it.each([
    ["SELECT pg_notify('ch', ssn) FROM clinical.patients", 'pg_notify'],
    ["SELECT pg_catalog.set_config('x.y', ssn, false) FROM clinical.patients", 'pg_catalog.set_config'],
    ["SELECT setval('s', ascii(ssn)) FROM clinical.patients", 'setval'],
    ['SELECT lo_from_bytea(0, ssn::bytea) FROM clinical.patients', 'lo_from_bytea'],
    ['SELECT pg_advisory_lock(ascii(ssn)) FROM clinical.patients', 'pg_advisory_lock'],
    ['SELECT leak(ssn) FROM clinical.patients', 'function leak'],
    ['SELECT public.leak(ssn) FROM clinical.patients', 'public.leak'],
    ['SELECT lower(ssn) FROM clinical.patients', 'function lower'], // a public.lower overload could be chosen
    ['SELECT p.leak FROM clinical.patients p', 'function leak'], // functional notation: leak(p)
    ['SELECT (p).leak FROM clinical.patients p', 'function leak'],
    ['SELECT ssn ### 1 FROM clinical.patients', 'operator ###'],
    ['SELECT ssn::public.mydomain FROM clinical.patients', 'type public.mydomain'],
    ['SELECT no_such_function(ssn) FROM clinical.patients', 'not one Gatehouse knows'],
  ])('%s → refused (%s)', (sql, what) => {
    expect(refused(sql)).toContain(what);
  });

  it('refuses side effects anywhere in the statement, even without a masked argument', () => {
    expect(refused("SELECT ssn, pg_notify('ch', 'x') FROM clinical.patients")).toContain('pg_notify');
  });

  it('lets harmless builtins, column notation and plain casts run', () => {
    expect(refused('SELECT ssn, random(), now(), id::text, id::int FROM clinical.patients')).toBeNull();
  });

  it('fails closed without a routine catalog, unless the statement calls nothing', () => {
    expect(refused('SELECT ssn FROM clinical.patients WHERE id = 1', null)).toContain('function catalog is not loaded');
    expect(refused('SELECT ssn FROM clinical.patients', null)).toBeNull();
  });
});

describe('maskSideChannelRefusal', () => {
  it('is a 0A000 error carrying the decision id, naming no value', () => {
    const e = maskSideChannelRefusal(decision(), parsed("SELECT id FROM clinical.patients WHERE ssn = '123-45-6789'"), catalog);
    expect(e?.sqlstate).toBe('0A000');
    expect(e?.code).toBe('FEATURE_NOT_SUPPORTED');
    expect(e?.decisionId).toBe('d-1');
    expect(`${e?.message} ${e?.detail} ${e?.hint}`).not.toContain('123-45-6789');
    expect(maskSideChannelRefusal(decision(), parsed('SELECT ssn FROM clinical.patients WHERE id = 1'), catalog)).toBeNull();
    expect(maskSideChannelRefusal(decision(), null, catalog)).toBeNull();
  });
});
