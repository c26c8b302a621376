import { cp, mkdtemp, readFile, readdir, rm, writeFile, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readPolicyFiles } from './policy-files.ts';
import {
  PREBUILT_DIR,
  PREBUILT_MANIFEST,
  REFRESH_COMMAND,
  SHIPPED_REGO_SOURCES,
  findPrebuiltModule,
  findRecordedOpaTest,
  readPrebuiltManifest,
  regoTestsHash,
  type PrebuiltManifest,
} from './prebuilt-rego.ts';
import { compileRegoDirectory, loadRegoEngine, regoModuleName } from './rego-engine.ts';
import { runOpaTest } from './testing/opa-test.ts';

const root = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const stale = (what: string): string => `gateway/prebuilt/ is stale (${what}): run \`${REFRESH_COMMAND}\` and commit gateway/prebuilt/`;
const NO_OPA = '/nonexistent/opa';

let scratch: string;
let manifest: PrebuiltManifest;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'gh-prebuilt-'));
  const read = await readPrebuiltManifest();
  if (read === null) throw new Error(stale(`no readable ${PREBUILT_MANIFEST} for this OPA version`));
  manifest = read;
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('the committed Rego artifact', () => {
  for (const sources of SHIPPED_REGO_SOURCES) {
    it(`matches the current sources of ${sources}, tests included`, async () => {
      const dir = join(root, sources);
      const entry = manifest.modules.find((m) => m.sources === sources);
      expect(entry, stale(`${sources} has no entry`)).toBeDefined();
      expect(entry?.module, stale(`${sources} changed since its module was built`)).toBe(regoModuleName(await readPolicyFiles(dir, 'rego')));
      expect(entry?.tests_sha256, stale(`${sources} or its *_test.rego changed since opa test was recorded`)).toBe(await regoTestsHash(dir));
    });

    it(`is byte for byte what opa builds from ${sources}`, async () => {
      const entry = manifest.modules.find((m) => m.sources === sources);
      const { wasmPath } = await compileRegoDirectory(sources, { opaPath: inject('gatehouseOpa'), outDir: join(scratch, 'rebuild'), prebuilt: false, cwd: root });
      const committed = await readFile(join(PREBUILT_DIR, entry?.module ?? 'missing.wasm')).catch(() => Buffer.alloc(0));
      expect((await readFile(wasmPath)).equals(committed), stale(`the committed module for ${sources} differs from a fresh build`)).toBe(true);
    });
  }

  it('holds no module that no shipped source set uses', async () => {
    const used = new Set(manifest.modules.map((m) => m.module));
    const unused = (await readdir(PREBUILT_DIR)).filter((n) => n.endsWith('.wasm') && !used.has(n));
    expect(unused, stale('leftover modules')).toEqual([]);
  });
});

describe('using the artifact', () => {
  it('compiles and tests the shipped policies without any opa CLI', async () => {
    const copy = join(scratch, 'shipped', 'rego');
    await cp(join(root, 'policies/rego'), copy, { recursive: true });
    const { wasmPath } = await compileRegoDirectory(copy, { opaPath: NO_OPA, outDir: join(scratch, 'build-shipped') });
    const engine = await loadRegoEngine(await readFile(wasmPath), 'test');
    expect(engine.kind).toBe('rego');
    const results = await runOpaTest(copy, { opaPath: NO_OPA, root: join(scratch, 'shipped') });
    expect(results.length).toBe(manifest.modules.find((m) => m.sources === 'policies/rego')?.opa_test.length);
    expect(results.every((r) => r.status === 'passed' && r.file?.startsWith('rego/'))).toBe(true);
  });

  it('is not used once a source changes: compiling then needs opa, and opa test results are not reused', async () => {
    const copy = join(scratch, 'changed', 'rego');
    await cp(join(root, 'policies/rego'), copy, { recursive: true });
    await appendFile(join(copy, 'statements.rego'), '\n# a comment is a change too\n');
    expect(await findPrebuiltModule(regoModuleName(await readPolicyFiles(copy, 'rego')))).toBeNull();
    await expect(compileRegoDirectory(copy, { opaPath: NO_OPA, outDir: join(scratch, 'build-changed') })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    expect(await findRecordedOpaTest(copy, scratch)).toBeNull();
    const results = await runOpaTest(copy, { opaPath: NO_OPA, root: scratch });
    expect(results.map((r) => r.status)).toEqual(['error']);
  });

  it('does not reuse recorded opa test results when only a test file changed', async () => {
    const copy = join(scratch, 'changed-test', 'rego');
    await cp(join(root, 'policies/rego'), copy, { recursive: true });
    await appendFile(join(copy, 'gatehouse_test.rego'), '\ntest_added_later if { true }\n');
    expect(await findPrebuiltModule(regoModuleName(await readPolicyFiles(copy, 'rego')))).not.toBeNull();
    expect(await findRecordedOpaTest(copy, scratch)).toBeNull();
  });

  it('refuses a module whose bytes do not match the manifest', async () => {
    const dir = join(scratch, 'damaged');
    await cp(PREBUILT_DIR, dir, { recursive: true });
    const entry = manifest.modules[0];
    if (entry === undefined) throw new Error('empty manifest');
    expect(await findPrebuiltModule(entry.module, dir)).not.toBeNull();
    const bytes = await readFile(join(dir, entry.module));
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 0xff, bytes.length - 1);
    await writeFile(join(dir, entry.module), bytes);
    expect(await findPrebuiltModule(entry.module, dir)).toBeNull();
  });
});
