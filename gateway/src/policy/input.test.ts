import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { facts, identity, input, SCENARIOS, SESSION, table } from './example-inputs.ts';
import { buildPolicyInput } from './input.ts';
import { POLICY_INPUT_VERSION } from './types.ts';

function loadSchema(name: string): object {
  return JSON.parse(readFileSync(new URL(`../../../schemas/${name}`, import.meta.url), 'utf8')) as object;
}

const ajv = new Ajv2020({ allErrors: true, strict: true });
addFormats.default(ajv);
const validateInput = ajv.compile(loadSchema('policy-input.schema.json'));

describe('buildPolicyInput', () => {
  it('writes snake_case fields, qualified table names and the version', () => {
    const built = buildPolicyInput({
      identity: identity(['agents', 'agents'], ['ops']),
      session: SESSION,
      text: "COPY (SELECT * FROM clinical.visits v) TO STDOUT",
      protocol: 'extended',
      facts: facts('copy', 'CopyStmt', {
        tablesRead: [table('clinical.visits'), table('clinical.visits')],
        columns: { 'clinical.visits': ['*', '*'] },
        functions: ['now'],
        copy: { direction: 'to', endpoint: 'stdio', query: true },
      }),
    });
    expect(built.version).toBe(POLICY_INPUT_VERSION);
    expect(built.identity.groups).toEqual(['agents']);
    expect(built.session).toEqual({
      id: 'sess-1',
      client_address: '10.0.0.7',
      application_name: 'psql',
      database: 'clinic',
      user: 'agent',
      tls: true,
    });
    expect(built.statement).toMatchObject({
      protocol: 'extended',
      kind: 'copy',
      tables_read: ['clinical.visits'],
      tables_written: [],
      columns: { 'clinical.visits': ['*'] },
      copy: { direction: 'to', endpoint: 'stdio', query: true },
      fingerprint: 'a1b2c3d4e5f60718',
    });
    expect(validateInput(built), JSON.stringify(validateInput.errors)).toBe(true);
  });

  it.each(SCENARIOS)('validates against schemas/policy-input.schema.json: $name', ({ input: built }) => {
    expect(validateInput(built), JSON.stringify(validateInput.errors)).toBe(true);
  });

  it('the schema rejects unknown fields, kinds and unqualified tables', () => {
    const good = input(['agents'], 'SELECT 1', facts('select', 'SelectStmt'));
    expect(validateInput({ ...good, extra: 1 })).toBe(false);
    expect(validateInput({ ...good, statement: { ...good.statement, kind: 'drop' } })).toBe(false);
    expect(validateInput({ ...good, statement: { ...good.statement, tables_read: ['patients'] } })).toBe(false);
    expect(validateInput({ ...good, version: 1 })).toBe(false);
    const { runs_sql_text: _dropped, ...withoutFact } = good.statement;
    expect(validateInput({ ...good, statement: withoutFact })).toBe(false);
  });

  it('computes runs_sql_text from the functions called', () => {
    const build = (functions: string[]) => input(['agents'], 'SELECT f()', facts('select', 'SelectStmt', { functions }));
    expect(build(['query_to_xml']).statement.runs_sql_text).toBe(true);
    expect(build(['lower', 'pg_catalog.table_to_xml']).statement.runs_sql_text).toBe(true);
    expect(build(['public.dblink']).statement.runs_sql_text).toBe(true);
    expect(build(['app.query_to_xml']).statement.runs_sql_text).toBe(false);
    expect(build([]).statement.runs_sql_text).toBe(false);
  });
});

describe('schemas/decision.schema.json', () => {
  const validateDecision = ajv.compile(loadSchema('decision.schema.json'));

  it('accepts a decision and rejects an unknown strategy', () => {
    const decision = {
      id: 'd-1',
      engine: 'cedar',
      revision: 'dir:' + 'a'.repeat(64),
      evalMicros: 120,
      action: 'mask',
      reason: 'patient identifiers masked',
      policies: ['clinical-read-masked'],
      masks: [{ table: 'clinical.patients', column: 'ssn', strategy: 'redact', policy: 'clinical-read-masked' }],
    };
    expect(validateDecision(decision), JSON.stringify(validateDecision.errors)).toBe(true);
    const bad = { ...decision, masks: [{ ...decision.masks[0], strategy: 'rot13' }] };
    expect(validateDecision(bad)).toBe(false);
  });
});
