// Precompiled Rego for the shipped example policies (gateway/prebuilt/): a WASM module and the
// `opa test` results recorded for exactly those sources, used only when a content hash matches.

import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OPA_VERSION } from './opa-binary.ts';
import { hashPolicyFiles, type PolicyFile } from './policy-files.ts';
import type { PolicyTestResult } from './testing/types.ts';

/** The committed artifact directory; regenerate it with `npm run build:policy-artifact`. */
export const PREBUILT_DIR = fileURLToPath(new URL('../../prebuilt/', import.meta.url));
export const PREBUILT_MANIFEST = 'rego-manifest.json';
export const REFRESH_COMMAND = 'npm run build:policy-artifact';

/** Policy directories (relative to the project root) whose compiled modules are committed. */
export const SHIPPED_REGO_SOURCES = ['policies/rego', 'examples/policy-repo/policies/rego'] as const;

export interface RecordedOpaTest {
  name: string;
  /** Relative to the policy directory, "/" separators. */
  file?: string;
  line?: number;
}

export interface PrebuiltEntry {
  /** The directory it was built from, relative to the project root (documentation only). */
  sources: string;
  /** `rego-<sha256>.wasm`: the build cache name, keyed by the sources (tests excluded), entrypoint and OPA version. */
  module: string;
  /** sha256 of the module's bytes: a damaged or swapped file is not used. */
  module_sha256: string;
  /** sha256 over every *.rego file, tests included, when `opa test` passed on them. */
  tests_sha256: string;
  /** Every test `opa test` ran and passed on those sources. */
  opa_test: RecordedOpaTest[];
}

export interface PrebuiltManifest {
  version: 1;
  opa_version: string;
  entrypoint: string;
  modules: PrebuiltEntry[];
}

export async function readPrebuiltManifest(dir = PREBUILT_DIR): Promise<PrebuiltManifest | null> {
  let text: string;
  try {
    text = await readFile(join(dir, PREBUILT_MANIFEST), 'utf8');
  } catch {
    return null;
  }
  const parsed = JSON.parse(text) as PrebuiltManifest;
  return parsed.version === 1 && parsed.opa_version === OPA_VERSION && Array.isArray(parsed.modules) ? parsed : null;
}

/**
 * The committed module for `moduleName` (see regoModuleName), or null. The name carries the
 * sources' hash, so a match means the same sources; the bytes are checked against the manifest.
 */
export async function findPrebuiltModule(moduleName: string, dir = PREBUILT_DIR): Promise<Buffer | null> {
  const manifest = await readPrebuiltManifest(dir);
  const entry = manifest?.modules.find((m) => m.module === moduleName);
  if (entry === undefined) return null;
  let bytes: Buffer;
  try {
    bytes = await readFile(join(dir, entry.module));
  } catch {
    return null;
  }
  return sha256(bytes) === entry.module_sha256 ? bytes : null;
}

/** The `opa test` results recorded for a directory whose *.rego files (tests included) match, or null. */
export async function findRecordedOpaTest(policyDir: string, root: string, dir = PREBUILT_DIR): Promise<PolicyTestResult[] | null> {
  const manifest = await readPrebuiltManifest(dir);
  if (manifest === null) return null;
  const hash = await regoTestsHash(policyDir);
  const entry = manifest.modules.find((m) => m.tests_sha256 === hash);
  if (entry === undefined) return null;
  const message = `passed when ${REFRESH_COMMAND} ran opa ${OPA_VERSION} on these exact sources (no opa CLI on this machine)`;
  return entry.opa_test.map((t) => ({
    name: t.name,
    ...(t.file === undefined ? {} : { file: relative(root, join(policyDir, t.file)).split(sep).join('/') }),
    ...(t.line === undefined ? {} : { line: t.line }),
    status: 'passed' as const,
    message,
    durationMs: 0,
  }));
}

/** sha256 over every *.rego file under dir (tests included; hidden entries skipped), with the OPA version. */
export async function regoTestsHash(policyDir: string): Promise<string> {
  const names = (await readdir(policyDir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile() && e.name.endsWith('.rego'))
    .map((e) => relative(policyDir, join(e.parentPath, e.name)).split(sep).join('/'))
    .filter((p) => !p.split('/').some((part) => part.startsWith('.')))
    .sort();
  const files: PolicyFile[] = [];
  for (const path of names) files.push({ path, content: await readFile(join(policyDir, path), 'utf8') });
  return hashPolicyFiles(files, `opa test\u0000${OPA_VERSION}`);
}

export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}
