// Loads the configured policy engine for a policy directory: Rego (compiled to WASM) or Cedar.

import { readFile } from 'node:fs/promises';
import { regoVerdictReads } from './input-reads.ts';
import { hashPolicyFiles, readPolicyFiles } from './policy-files.ts';
import type { EngineKind, PolicyEngine } from './types.ts';

export interface LoadPolicyEngineOptions {
  engine: EngineKind;
  directory: string;
  /** Where compiled artifacts are cached (Rego WASM modules). */
  buildDir: string;
  /** A git commit hash; defaults to "dir:<sha256 of the policy files>". */
  revision?: string;
  /** The opa binary (Rego only). */
  opaPath?: string;
  /** A .cedarschema file (Cedar only). */
  cedarSchemaPath?: string;
}

export async function loadPolicyEngine(opts: LoadPolicyEngineOptions): Promise<PolicyEngine> {
  const revision = opts.revision ?? (await directoryRevision(opts.engine, opts.directory));
  switch (opts.engine) {
    // Each engine's code is imported only when it is the configured one: Cedar's WebAssembly (4 MB,
    // about 18 MB of resident memory once compiled) is not loaded by a gateway that serves Rego.
    case 'rego': {
      const { compileRegoDirectory, loadRegoEngine, regoSourcesDeterministic } = await import('./rego-engine.ts');
      const { wasmPath } = await compileRegoDirectory(opts.directory, {
        outDir: opts.buildDir,
        ...(opts.opaPath === undefined ? {} : { opaPath: opts.opaPath }),
      });
      const sources = (await readPolicyFiles(opts.directory, 'rego')).map((f) => f.content);
      return loadRegoEngine(await readFile(wasmPath), revision, regoSourcesDeterministic(sources), {}, regoVerdictReads(sources));
    }
    case 'cedar': {
      const { loadCedarEngine } = await import('./cedar-engine.ts');
      return loadCedarEngine(opts.directory, revision, opts.cedarSchemaPath === undefined ? {} : { schemaPath: opts.cedarSchemaPath });
    }
    default: {
      const never: never = opts.engine;
      throw new Error(`unknown policy engine ${String(never)}`);
    }
  }
}

/** "dir:" + sha256 of the engine's policy sources (tests excluded), for a directory outside git. */
export async function directoryRevision(engine: EngineKind, directory: string): Promise<string> {
  return `dir:${hashPolicyFiles(await readPolicyFiles(directory, engine))}`;
}
