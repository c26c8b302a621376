// The policy evaluation worker's code compiled to plain JavaScript once per process, so that its
// threads start without tsx: tsx in a worker thread registers its module hooks there, which runs
// one more V8 isolate per worker (its loader thread) and holds the transformed sources, about
// 20-30 MB of resident memory for each evaluation worker and warm spare.
//
// The bundle is written to a fresh private temporary directory (mkdtemp, mode 0700: nobody else
// can have put code there) and removed when the pool closes. Packages stay outside the bundle,
// imported by absolute file URL, and each engine stays in a chunk of its own that is imported only
// when that engine is built (Cedar's WebAssembly is not loaded by a worker that evaluates Rego).

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The worker's TypeScript entry, run through tsx: what a pool uses when no bundle was made. */
export const TSX_EVAL_WORKER_ENTRY = new URL('./eval-worker-entry.js', import.meta.url);

export interface EvalWorkerBundle {
  /** The module a worker thread starts from. */
  entry: URL;
  /** Removes the bundle's files (after the workers are stopped). */
  remove(): Promise<void>;
}

const TEMP_PREFIX = 'gatehouse-eval-worker-';

/**
 * Compiles eval-worker.ts and what it imports into a private temporary directory. Rejects when it
 * cannot (no esbuild, a read-only temporary directory): the caller then keeps the tsx entry.
 */
export async function bundleEvalWorker(): Promise<EvalWorkerBundle> {
  const { build } = await import('esbuild');
  const source = fileURLToPath(new URL('./eval-worker.ts', import.meta.url));
  const outdir = await mkdtemp(path.join(os.tmpdir(), TEMP_PREFIX));
  const remove = (): Promise<void> => rm(outdir, { recursive: true, force: true });
  try {
    await build({
      entryPoints: { 'eval-worker': source },
      outdir,
      outExtension: { '.js': '.mjs' },
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      write: true,
      logLevel: 'silent',
      plugins: [
        {
          name: 'gatehouse-eval-worker',
          setup(b) {
            // Packages are not bundled: imported from where they are installed, by absolute URL.
            b.onResolve({ filter: /^[^./]/ }, async (args) => {
              if (args.pluginData === 'resolving' || args.path.startsWith('node:')) return args.path.startsWith('node:') ? { path: args.path, external: true } : undefined;
              const found = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: 'resolving' });
              if (found.errors.length > 0) return { errors: found.errors };
              return found.external ? { path: found.path, external: true } : { path: pathToFileURL(found.path).href, external: true };
            });
            // A module that finds files next to itself keeps finding them next to its source.
            b.onLoad({ filter: /\.ts$/ }, async (args) => {
              const { readFile } = await import('node:fs/promises');
              const text = await readFile(args.path, 'utf8');
              return { contents: text.replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href)), loader: 'ts' };
            });
          },
        },
      ],
    });
  } catch (e) {
    await remove();
    throw e;
  }
  return { entry: pathToFileURL(path.join(outdir, 'eval-worker.mjs')), remove };
}
