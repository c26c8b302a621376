// Regenerates gateway/prebuilt/ (`npm run build:policy-artifact`): compiles each shipped Rego
// policy directory with the pinned opa CLI, runs `opa test` on it, and records both by content hash.
//   npm run build:policy-artifact            (needs opa v1.22.2: bash scripts/ensure-opa.sh)

import { mkdtemp, readdir, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findOpaBinary, OPA_VERSION } from '../gateway/src/policy/opa-binary.ts';
import { readPolicyFiles } from '../gateway/src/policy/policy-files.ts';
import {
  PREBUILT_DIR,
  PREBUILT_MANIFEST,
  SHIPPED_REGO_SOURCES,
  regoTestsHash,
  sha256,
  type PrebuiltEntry,
  type PrebuiltManifest,
} from '../gateway/src/policy/prebuilt-rego.ts';
import { compileRegoDirectory, REGO_ENTRYPOINT, regoModuleName } from '../gateway/src/policy/rego-engine.ts';
import { runOpaTest } from '../gateway/src/policy/testing/opa-test.ts';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));

async function main(): Promise<number> {
  const opa = await findOpaBinary();
  const scratch = await mkdtemp(join(tmpdir(), 'gatehouse-prebuilt-'));
  const entries: PrebuiltEntry[] = [];
  try {
    await mkdir(PREBUILT_DIR, { recursive: true });
    for (const sources of SHIPPED_REGO_SOURCES) {
      const dir = join(root, sources);
      const results = await runOpaTest(dir, { opaPath: opa, root: dir });
      const failed = results.filter((r) => r.status !== 'passed');
      if (results.length === 0 || failed.length > 0) {
        process.stderr.write(`build-policy-artifact: opa test failed in ${sources}: ${failed.map((r) => `${r.name}: ${r.message ?? r.status}`).join('; ') || 'no tests ran'}\n`);
        return 1;
      }
      const { wasmPath } = await compileRegoDirectory(sources, { opaPath: opa, outDir: scratch, prebuilt: false, cwd: root });
      const module = regoModuleName(await readPolicyFiles(dir, 'rego'));
      const bytes = await readFile(wasmPath);
      await writeFile(join(PREBUILT_DIR, module), bytes);
      entries.push({
        sources,
        module,
        module_sha256: sha256(bytes),
        tests_sha256: await regoTestsHash(dir),
        opa_test: results.map((r) => ({ name: r.name, ...(r.file === undefined ? {} : { file: r.file }), ...(r.line === undefined ? {} : { line: r.line }) })),
      });
      process.stderr.write(`build-policy-artifact: ${sources} -> gateway/prebuilt/${module} (${bytes.length} bytes, ${results.length} opa tests passed)\n`);
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  const manifest: PrebuiltManifest = { version: 1, opa_version: OPA_VERSION, entrypoint: REGO_ENTRYPOINT, modules: entries };
  await writeFile(join(PREBUILT_DIR, PREBUILT_MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
  // Modules no shipped source set uses any more are removed.
  const keep = new Set([PREBUILT_MANIFEST, ...entries.map((e) => e.module)]);
  for (const name of await readdir(PREBUILT_DIR)) {
    if (name.endsWith('.wasm') && !keep.has(name)) await rm(join(PREBUILT_DIR, name));
  }
  process.stderr.write(`build-policy-artifact: wrote gateway/prebuilt/${PREBUILT_MANIFEST}; commit gateway/prebuilt/\n`);
  return 0;
}

process.exitCode = await main().catch((e: unknown) => {
  process.stderr.write(`build-policy-artifact: ${e instanceof Error ? e.message : String(e)}\n`);
  return 1;
});
