// Real OPA-built WebAssembly (needs the opa CLI): runtime errors, malformed verdicts, the build cache.

import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isGatehouseError } from '../errors.ts';
import { facts, input, readPatients } from './example-inputs.ts';
import { findOpaBinary } from './opa-binary.ts';
import { compileRegoDirectory, loadRegoEngine, verdictFromResultSet } from './rego-engine.ts';
import type { PolicyInput } from './types.ts';

let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'gatehouse-rego-'));
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function policyDir(name: string, files: Record<string, string>): Promise<string> {
  const dir = join(work, name);
  await mkdir(dir, { recursive: true });
  for (const [file, text] of Object.entries(files)) await writeFile(join(dir, file), text);
  return dir;
}

async function engineFor(name: string, rego: string) {
  const dir = await policyDir(name, { 'policy.rego': rego });
  const { wasmPath } = await compileRegoDirectory(dir, { outDir: join(work, 'build') });
  return loadRegoEngine(await readFile(wasmPath), `test:${name}`);
}

const VERDICT = 'verdict := {"deny": deny, "approve": approve, "mask": mask, "allow": allow}\n';

describe('rego engine', () => {
  it('turns a runtime error (conflicting values) into a deny and keeps working', async () => {
    const engine = await engineFor(
      'conflict',
      `package gatehouse
tier := "gold" if input.statement.kind == "select"
tier := "silver" if input.statement.kind == "select"
deny contains {"id": "never", "reason": "x"} if false
approve contains {"id": "never", "reason": "x"} if false
mask contains {"id": "never", "table": "a.b", "column": "c", "strategy": "null"} if false
allow contains {"id": "tiered", "reason": tier} if input.statement.kind in {"select", "show"}
allow contains {"id": "tiered", "reason": "show"} if input.statement.kind == "show"
${VERDICT}`,
    );
    const broken = engine.evaluate(input(['agents'], 'SELECT 1', facts('select', 'SelectStmt')));
    expect(broken.action).toBe('deny');
    expect(broken.reason).toMatch(/^policy engine error: /);
    // The instance is reusable after an error: the next input evaluates normally.
    const fine = engine.evaluate(input(['agents'], 'SHOW x', facts('show', 'VariableShowStmt')));
    expect(fine).toMatchObject({ action: 'allow', policies: ['tiered'] });
  });

  it('denies a malformed verdict (mask without a strategy)', async () => {
    const engine = await engineFor(
      'malformed',
      `package gatehouse
deny := set()
approve := set()
allow := set()
mask contains {"id": "half", "table": "clinical.patients", "column": "ssn"} if true
${VERDICT}`,
    );
    const verdict = engine.evaluate(input(['agents'], 'SELECT * FROM clinical.patients', readPatients));
    expect(verdict.action).toBe('deny');
    expect(verdict.reason).toContain('policy engine error');
  });

  it('denies when nothing is in any set', async () => {
    const engine = await engineFor('empty', `package gatehouse\ndeny := set()\napprove := set()\nmask := set()\nallow := set()\n${VERDICT}`);
    expect(engine.evaluate(input(['agents'], 'SELECT 1', facts('select', 'SelectStmt')))).toMatchObject({
      action: 'deny',
      policies: ['default-deny'],
    });
  });

  it('compiles once per content hash and leaves tests out of the build', async () => {
    const dir = await policyDir('cached', {
      'p.rego': `package gatehouse\ndeny := set()\napprove := set()\nmask := set()\nallow contains {"id": "all"} if true\n${VERDICT}`,
      // Does not even parse: the build fails if tests are not left out.
      'p_test.rego': 'package gatehouse_test\nthis is not rego {\n',
    });
    const outDir = join(work, 'cache-build');
    const first = await compileRegoDirectory(dir, { outDir });
    const built = (await stat(first.wasmPath)).mtimeMs;
    const second = await compileRegoDirectory(dir, { outDir, opaPath: '/nonexistent/opa' });
    expect(second.wasmPath).toBe(first.wasmPath);
    expect((await stat(second.wasmPath)).mtimeMs).toBe(built);
    expect((await readdir(outDir)).filter((f) => f.endsWith('.wasm'))).toHaveLength(1);

    await writeFile(join(dir, 'p.rego'), `package gatehouse\ndeny := set()\napprove := set()\nmask := set()\nallow contains {"id": "changed"} if true\n${VERDICT}`);
    const third = await compileRegoDirectory(dir, { outDir });
    expect(third.wasmPath).not.toBe(first.wasmPath);
    const engine = await loadRegoEngine(await readFile(third.wasmPath), 'r');
    expect(engine.evaluate(input([], 'SELECT 1', facts('select', 'SelectStmt'))).policies).toEqual(['changed']);
  });

  it("loads and evaluates a policy without loading Node's fetch implementation (undici)", { timeout: 120_000 }, async () => {
    const dir = await policyDir('no-fetch', { 'policy.rego': `package gatehouse
deny contains {"id": "never", "reason": "x"} if false
approve contains {"id": "never", "reason": "x"} if false
mask contains {"id": "never", "table": "a.b", "column": "c", "strategy": "null"} if false
allow contains {"id": "all", "reason": "ok"} if true
${VERDICT}` });
    const { wasmPath } = await compileRegoDirectory(dir, { outDir: join(work, 'build') });
    // A fresh process: undici, once loaded by a read of the global Response, stays for its lifetime.
    const script = `
      import { readFile } from 'node:fs/promises';
      import { loadRegoEngine } from ${JSON.stringify(new URL('./rego-engine.ts', import.meta.url).href)};
      import { facts, input } from ${JSON.stringify(new URL('./example-inputs.ts', import.meta.url).href)};
      const engine = await loadRegoEngine(await readFile(${JSON.stringify(wasmPath)}), 'test');
      const verdict = engine.evaluate(input(['agents'], 'SELECT 1', facts('select', 'SelectStmt')));
      console.log(JSON.stringify({ action: verdict.action, undici: process.moduleLoadList.some((m) => m.includes('undici')) }));
    `;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env: { ...process.env, NODE_OPTIONS: '' }, encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({ action: 'allow', undici: false });
  });

  it('reports a compile error with opa output as detail', async () => {
    const dir = await policyDir('bad', { 'p.rego': 'package gatehouse\nallow contains {"id": x} if {\n' });
    const error = await compileRegoDirectory(dir, { outDir: join(work, 'build') }).catch((e: unknown) => e);
    expect(isGatehouseError(error) && error.code).toBe('CONFIG_INVALID');
  });

  it('says how to install opa when the binary is missing', async () => {
    const error = await findOpaBinary(undefined, { PATH: '/nonexistent', GOPATH: '/nonexistent', HOME: '/nonexistent' }).catch((e: unknown) => e);
    expect(isGatehouseError(error) && error.code).toBe('CONFIG_INVALID');
    expect(isGatehouseError(error) && error.hint).toContain('go install github.com/open-policy-agent/opa@');
    const explicit = await findOpaBinary('/nonexistent/opa').catch((e: unknown) => e);
    expect(isGatehouseError(explicit) && explicit.message).toContain('/nonexistent/opa');
  });
});

describe('verdictFromResultSet', () => {
  it('reads a mask entry with strategy "detect" as content detection, and refuses a bad one', () => {
    const entry = { id: 'notes', table: 'clinical.visits', column: 'notes', strategy: 'detect', detectors: ['ssn', 'email', 'ssn'] };
    const v = verdictFromResultSet([{ result: { deny: [], approve: [], mask: [entry], allow: [{ id: 'read' }] } }]);
    expect(v).toMatchObject({ action: 'mask', policies: ['notes'], masks: [] });
    expect(v.detections).toEqual([{ table: 'clinical.visits', column: 'notes', detectors: ['email', 'ssn'], policies: ['notes'] }]);
    for (const bad of [{ detectors: [] }, { detectors: ['ssn', 'passport'] }, { detectors: 'ssn' }, { column: '' }, { detectors: undefined }]) {
      const w = verdictFromResultSet([{ result: { mask: [{ ...entry, ...bad }] } }]);
      expect(w.action, JSON.stringify(bad)).toBe('deny');
      expect(w.reason).toMatch(/strategy "detect" needs/);
    }
  });

  it('reads an approve entry\'s requirements, and denies one that names no approvers', () => {
    const entry = { id: 'w', reason: 'look first', approvers: ['leads'], quorum: 2, ttl: '15m', reason_required: true, grant: '30m' };
    const v = verdictFromResultSet([{ result: { approve: [entry], allow: [{ id: 'a' }] } }]);
    expect(v).toMatchObject({ action: 'approve', policies: ['w'], reason: 'look first' });
    expect(v.approval).toEqual({ approvers: ['leads'], quorum: 2, ttlSeconds: 900, reasonRequired: true, grantMaxSeconds: 1800 });
    const w = verdictFromResultSet([{ result: { approve: [{ id: 'w' }] } }]);
    expect(w.action).toBe('deny');
    expect(w.reason).toMatch(/names no approvers/);
  });

  it('reads the optional reviewed set: the trigger functions of the statement it names, and denies a malformed one', () => {
    const fired = { statement: { trigger_functions: ['public.stamp', 'public.leak'] } } as unknown as PolicyInput;
    const v = verdictFromResultSet([{ result: { allow: [{ id: 'a' }], reviewed: ['public.stamp', 'public.other'] } }], fired);
    expect(v).toMatchObject({ action: 'allow', reviewed: ['public.stamp'] });
    expect(verdictFromResultSet([{ result: { allow: [{ id: 'a' }] } }], fired).reviewed).toBeUndefined();
    expect(verdictFromResultSet([{ result: { allow: [{ id: 'a' }], reviewed: [1] } }], fired).reason).toMatch(/reviewed is not a set/);
  });

  it('denies an undefined entrypoint', () => {
    expect(verdictFromResultSet([]).reason).toMatch(/^policy engine error: /);
  });

  it('denies entries without an id', () => {
    expect(verdictFromResultSet([{ result: { allow: [{ reason: 'x' }] } }]).action).toBe('deny');
  });

  it('combines the four sets', () => {
    const verdict = verdictFromResultSet([
      {
        result: {
          deny: [],
          approve: [],
          mask: [{ id: 'm', table: 'clinical.patients', column: 'ssn', strategy: 'redact' }],
          allow: [{ id: 'a', reason: 'ok' }],
        },
      },
    ]);
    expect(verdict).toMatchObject({ action: 'mask', policies: ['m'], masks: [{ column: 'ssn', strategy: 'redact', policy: 'm' }] });
  });
});
