// Cedar engine: runtime errors deny, load-time validation refuses bad policy sets, annotations are read.

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isGatehouseError } from '../errors.ts';
import { parseDetect, parseMask } from './cedar-policies.ts';
import { expandReason, loadCedarEngine } from './cedar-engine.ts';
import { CEDAR_SET_SLOTS, cedarSetSlotsInUse } from './cedar-preparsed-sets.ts';
import { facts, input, readPatients } from './example-inputs.ts';

let work: string;
let count = 0;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'gatehouse-cedar-'));
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function policies(text: string): Promise<string> {
  const dir = join(work, `set-${++count}`);
  await mkdir(dir);
  await writeFile(join(dir, 'policies.cedar'), text);
  return dir;
}

async function loadError(text: string): Promise<unknown> {
  return loadCedarEngine(await policies(text), 'test').catch((e: unknown) => e);
}

const EXECUTE_ALL = '@id("execute-all")\npermit (principal, action == Gatehouse::Action::"execute", resource);\n';

describe('cedar engine: @reviewed', () => {
  it('vouches for the trigger functions of the statement that some @reviewed annotation names, whatever the policy matches', async () => {
    const engine = await loadCedarEngine(
      await policies(`${EXECUTE_ALL}
@id("vouch")
@reviewed("public.stamp, audit.log_row")
forbid (principal, action == Gatehouse::Action::"execute", resource) when { false };`),
      'test',
    );
    const base = input(['writers'], 'SELECT 1', facts('select', 'SelectStmt'));
    const fired = { ...base, statement: { ...base.statement, trigger_functions: ['audit.log_row', 'public.leak'] } };
    expect(engine.evaluate(fired).reviewed).toEqual(['audit.log_row']);
    expect(engine.evaluate(base).reviewed).toBeUndefined();
  });

  it('refuses a @reviewed entry that is not a qualified function name', async () => {
    const e = await loadError(`@id("vouch")\n@reviewed("stamp")\nforbid (principal, action, resource) when { false };`);
    expect(isGatehouseError(e) && e.message).toMatch(/bad @reviewed entry "stamp"/);
  });
});

describe('cedar engine', () => {
  it('denies when a policy errors at run time, naming it', async () => {
    const engine = await loadCedarEngine(
      await policies(`${EXECUTE_ALL}
@id("overflow")
forbid (principal, action == Gatehouse::Action::"execute", resource)
when { context.kind == "select" && 9223372036854775807 + 1 > 0 };`),
      'test',
    );
    const verdict = engine.evaluate(input(['agents'], 'SELECT 1', facts('select', 'SelectStmt')));
    expect(verdict.action).toBe('deny');
    expect(verdict.policies).toEqual(['overflow']);
    expect(verdict.reason).toMatch(/^policy engine error: overflow: /);
    // Only the erroring condition fails: other statements still evaluate.
    expect(engine.evaluate(input(['agents'], 'SHOW x', facts('show', 'VariableShowStmt'))).action).toBe('allow');
  });

  it('fills {settings}, {functions} and {kind} in a forbid reason from the statement', async () => {
    const engine = await loadCedarEngine(
      await policies(`${EXECUTE_ALL}
@id("no-logging")
@reason("this statement sets {settings} and calls {functions} ({kind}); {other} stays")
forbid (principal, action == Gatehouse::Action::"execute", resource)
when { context.settings.contains("log_statement") };`),
      'test',
    );
    const f = facts('select', 'SelectStmt', {
      functions: ['set_config', 'pg_catalog.set_config'],
      settingChanges: [
        { origin: 'set_config()', name: { kind: 'text', text: 'application_name' }, value: { kind: 'text', text: 'x' } },
        { origin: 'set_config()', name: { kind: 'text', text: 'LOG_STATEMENT' }, value: { kind: 'text', text: 'none' } },
      ],
    });
    const verdict = engine.evaluate(input(['agents'], "SELECT set_config('application_name', 'x', false), set_config('LOG_STATEMENT', 'none', false)", f));
    expect(verdict.action).toBe('deny');
    expect(verdict.reason).toBe('this statement sets application_name, log_statement and calls set_config, pg_catalog.set_config (select); {other} stays');
    // A hand-written input that names only the top-level SET still names it.
    const handWritten = input(['agents'], 'SET log_statement = none', facts('set', 'VariableSetStmt', { setting: 'log_statement' }));
    expect(expandReason('sets {settings}', handWritten)).toBe('sets log_statement');
    expect(expandReason('sets {settings}', input([], 'SELECT 1', facts('select', 'SelectStmt')))).toBe('sets (none)');
  });

  it('reads @detect, alone or with @mask, on the request\'s table', async () => {
    const engine = await loadCedarEngine(
      await policies(`${EXECUTE_ALL}
@id("detect-notes")
@detect("notes:ssn,email; *:ip")
permit (principal, action == Gatehouse::Action::"read", resource == Gatehouse::Table::"clinical.visits");

@id("mask-and-detect")
@mask("ssn:redact")
@detect("address:phone")
permit (principal, action == Gatehouse::Action::"read", resource == Gatehouse::Table::"clinical.patients");`),
      'test',
    );
    const visits = facts('select', 'SelectStmt', {
      tablesRead: [{ schema: 'clinical', name: 'visits', qualified: 'clinical.visits', schemaExplicit: true }],
      columns: { 'clinical.visits': ['notes'] },
    });
    const v = engine.evaluate(input(['agents'], 'SELECT notes FROM clinical.visits', visits));
    expect(v).toMatchObject({ action: 'mask', policies: ['detect-notes'], masks: [] });
    expect(v.detections).toEqual([
      { table: 'clinical.visits', column: '*', detectors: ['ip'], policies: ['detect-notes'] },
      { table: 'clinical.visits', column: 'notes', detectors: ['email', 'ssn'], policies: ['detect-notes'] },
    ]);
    const p = engine.evaluate(input(['agents'], 'SELECT * FROM clinical.patients', readPatients));
    expect(p.masks.map((m) => `${m.column}:${m.strategy}`)).toEqual(['ssn:redact']);
    expect(p.detections).toEqual([{ table: 'clinical.patients', column: 'address', detectors: ['phone'], policies: ['mask-and-detect'] }]);
  });

  it('refuses @detect on a forbid, with @approve, and a bad @detect', async () => {
    const forbid = await loadError(`@id("f")\n@detect("notes:ssn")\nforbid (principal, action, resource);`);
    expect(isGatehouseError(forbid) && forbid.message).toMatch(/cannot carry @approve, @mask or @detect/);
    const both = await loadError(`@id("b")\n@approve("x")\n@detect("notes:ssn")\npermit (principal, action, resource);`);
    expect(isGatehouseError(both) && both.message).toMatch(/@approve and @mask or @detect/);
    expect(parseDetect('p', ' notes : ssn , dob ;*:ip')).toEqual([
      { column: 'notes', detectors: ['ssn', 'dob'] },
      { column: '*', detectors: ['ip'] },
    ]);
    for (const spec of ['notes', 'notes:', 'notes:passport', ':ssn', 'a,b:ssn', 'notes:ssn;']) expect(() => parseDetect('p', spec), spec).toThrow(/bad @detect entry/);
  });

  it('reads @mask, @approve and @reason', async () => {
    const engine = await loadCedarEngine(
      await policies(`${EXECUTE_ALL}
@id("mask-some")
@reason("masked for the test")
@mask("ssn: redact , phone:last4")
permit (principal, action == Gatehouse::Action::"read", resource == Gatehouse::Table::"clinical.patients");

@id("mask-more")
@mask("ssn:null")
permit (principal in Gatehouse::Group::"agents", action == Gatehouse::Action::"read", resource);

@id("needs-ok")
@approve("a human looks first")
@approvers("leads, dba")
@quorum("2")
@ttl("10m")
permit (principal, action == Gatehouse::Action::"write", resource) when { context.columns.contains("phone") };`),
      'test',
    );
    const read = engine.evaluate(input(['agents'], 'SELECT * FROM clinical.patients', readPatients));
    expect(read.action).toBe('mask');
    expect(read.policies).toEqual(['mask-more', 'mask-some']);
    expect(read.masks.map((m) => `${m.column}:${m.strategy}:${m.policy}`)).toEqual(['phone:last4:mask-some', 'ssn:null:mask-more']);

    const write = engine.evaluate(
      input(
        ['agents'],
        'UPDATE clinical.patients SET phone = $1 WHERE id = $2',
        facts('update', 'UpdateStmt', {
          tablesWritten: [{ schema: 'clinical', name: 'patients', qualified: 'clinical.patients', schemaExplicit: true }],
          columns: { 'clinical.patients': ['phone', 'id'] },
          hasWhere: true,
        }),
      ),
    );
    expect(write).toMatchObject({ action: 'approve', reason: 'a human looks first', policies: ['needs-ok'] });
    expect(write.approval).toEqual({ approvers: ['dba', 'leads'], quorum: 2, ttlSeconds: 600, reasonRequired: false, grantMaxSeconds: 0 });
  });

  it('refuses an @approve without approvers, and approval annotations without @approve', async () => {
    const none = await loadError(`@id("a")\n@approve("x")\npermit (principal, action, resource);`);
    expect(isGatehouseError(none) && none.message).toMatch(/names no approvers/);
    const stray = await loadError(`@id("b")\n@quorum("2")\npermit (principal, action, resource);`);
    expect(isGatehouseError(stray) && stray.message).toMatch(/@quorum without @approve/);
    const badTtl = await loadError(`@id("c")\n@approve("x")\n@approvers("leads")\n@ttl("forever")\npermit (principal, action, resource);`);
    expect(isGatehouseError(badTtl) && badTtl.message).toMatch(/ttl/);
  });

  it('refuses policies that do not validate against the schema', async () => {
    const error = await loadError(`@id("typo")
permit (principal, action == Gatehouse::Action::"read", resource) when { resource.schemaa == "clinical" };`);
    expect(isGatehouseError(error) && error.code).toBe('CONFIG_INVALID');
    expect(isGatehouseError(error) && error.detail).toContain('typo');
  });

  it('refuses unknown actions and entity types', async () => {
    const error = await loadError('@id("x")\npermit (principal, action == Gatehouse::Action::"drop", resource);');
    expect(isGatehouseError(error) && error.code).toBe('CONFIG_INVALID');
  });

  it.each([
    ['a policy without @id', 'permit (principal, action, resource);'],
    ['a duplicate @id', '@id("a")\npermit (principal, action, resource);\n@id("a")\nforbid (principal, action, resource);'],
    ['a bad mask strategy', '@id("a")\n@mask("ssn:rot13")\npermit (principal, action == Gatehouse::Action::"read", resource);'],
    ['@mask on a forbid', '@id("a")\n@mask("ssn:null")\nforbid (principal, action, resource);'],
    ['an unknown annotation', '@id("a")\n@masks("ssn:null")\npermit (principal, action, resource);'],
    ['a syntax error', '@id("a")\npermit (principal, action resource);'],
  ])('refuses %s', async (_name, text) => {
    const error = await loadError(text);
    expect(isGatehouseError(error) && error.code).toBe('CONFIG_INVALID');
  });

  it('refuses an empty directory', async () => {
    const dir = join(work, 'empty');
    await mkdir(dir);
    const error = await loadCedarEngine(dir, 'test').catch((e: unknown) => e);
    expect(isGatehouseError(error) && error.code).toBe('CONFIG_INVALID');
  });
});

describe('parseMask', () => {
  it('parses column:strategy lists', () => {
    expect(parseMask('p', 'ssn:redact,first_name:last4')).toEqual([
      { column: 'ssn', strategy: 'redact' },
      { column: 'first_name', strategy: 'last4' },
    ]);
  });

  it.each(['', 'ssn', 'ssn:', ':null', 'ssn:null:x', 'ssn:null,'])('rejects %j', (spec) => {
    expect(() => parseMask('p', spec)).toThrow();
  });
});

describe('cedar policy sets in cedar-wasm memory', () => {
  it('keeps at most CEDAR_SET_SLOTS sets, and every engine still answers with its own set', async () => {
    // One engine per group: each permits statements only to members of its own group.
    const count = CEDAR_SET_SLOTS + 3;
    const engines = [];
    for (let i = 0; i < count; i++) {
      const text = `@id("only-g${i}")\npermit (principal in Gatehouse::Group::"g${i}", action == Gatehouse::Action::"execute", resource);\n`;
      engines.push(await loadCedarEngine(await policies(text), `rev-${i}`));
    }
    // More sets than slots were loaded: every slot holds one, the rest wait to be put back.
    expect(cedarSetSlotsInUse()).toBe(CEDAR_SET_SLOTS);
    const show = facts('show', 'VariableShowStmt');
    // Forwards then backwards: the engines loaded first were displaced and must come back.
    const order = [...engines.keys(), ...[...engines.keys()].reverse()];
    for (const i of order) {
      const own = engines[i]!.evaluate(input([`g${i}`], 'SHOW x', show));
      const other = engines[i]!.evaluate(input([`g${(i + 1) % count}`], 'SHOW x', show));
      expect({ i, own: own.action, policies: own.policies }).toEqual({ i, own: 'allow', policies: [`only-g${i}`] });
      expect({ i, other: other.action }).toEqual({ i, other: 'deny' });
    }
  });
});
