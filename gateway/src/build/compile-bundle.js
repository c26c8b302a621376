// Compiles a TypeScript module and what it imports into plain JavaScript in a private temporary
// directory (esbuild), so that a process or thread can run it without tsx: tsx registers module
// hooks, which run a V8 isolate of their own (a loader thread) holding the transformed sources.
// Plain JavaScript so that the `gatehouse` executable can use it before anything else is loaded.
//
// The output directory is made with mkdtemp (mode 0700: nobody else can have put code there).
// Packages are not bundled: they are imported from where they are installed, by absolute URL.
// Dynamic imports stay separate chunks, loaded only when reached (an engine that is not configured
// is not loaded). `import.meta.url` keeps meaning the source file's URL, so that a module that
// finds files next to itself keeps finding them. esbuild's compiler process is stopped once no
// build is running.

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Builds running in this process, counted across module copies (the executable's and the compiled bundle's). */
const BUILDING = Symbol.for('gatehouse.esbuildBuilds');

/**
 * @param {URL} source the TypeScript entry module
 * @param {{ prefix: string; keepNames?: boolean }} options
 */
export async function compileBundle(source, options) {
  const { build, stop } = await import('esbuild');
  const file = fileURLToPath(source);
  const name = path.basename(file).replace(/\.[cm]?ts$/, '');
  const outdir = await mkdtemp(path.join(os.tmpdir(), options.prefix));
  globalThis[BUILDING] = (globalThis[BUILDING] ?? 0) + 1;
  try {
    await build({
      entryPoints: { [name]: file },
      outdir,
      outExtension: { '.js': '.mjs' },
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      keepNames: options.keepNames === true,
      write: true,
      logLevel: 'silent',
      plugins: [
        {
          name: 'gatehouse-compile',
          setup(b) {
            b.onResolve({ filter: /^[^./]/ }, async (args) => {
              if (args.path.startsWith('node:')) return { path: args.path, external: true };
              if (args.pluginData === 'resolving') return undefined;
              const found = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: 'resolving' });
              if (found.errors.length > 0) return { errors: found.errors };
              return { path: found.external ? found.path : pathToFileURL(found.path).href, external: true };
            });
            b.onLoad({ filter: /\.[cm]?ts$/ }, async (args) => {
              const text = await readFile(args.path, 'utf8');
              const url = pathToFileURL(args.path).href;
              return {
                contents: text
                  .replaceAll('import.meta.url', JSON.stringify(url))
                  .replaceAll('import.meta.dirname', JSON.stringify(path.dirname(args.path)))
                  .replaceAll('import.meta.filename', JSON.stringify(args.path)),
                loader: 'ts',
              };
            });
          },
        },
      ],
    });
  } catch (e) {
    await rm(outdir, { recursive: true, force: true });
    throw e;
  } finally {
    // esbuild's API runs its compiler as a child process and keeps it for later builds: about 65 MB
    // resident beside a gateway that builds twice at start and never again. Stopped when no build of
    // this process is running (a later build starts it again).
    globalThis[BUILDING] -= 1;
    if (globalThis[BUILDING] === 0) await stop();
  }
  // Removed at exit too, whatever ends the process short of a kill (a test runner's worker that
  // exits without closing its gateways, process.exit).
  const removeSync = () => rmSync(outdir, { recursive: true, force: true });
  process.once('exit', removeSync);
  return {
    entry: pathToFileURL(path.join(outdir, `${name}.mjs`)),
    remove: async () => {
      process.removeListener('exit', removeSync);
      await rm(outdir, { recursive: true, force: true });
    },
    removeSync: () => {
      process.removeListener('exit', removeSync);
      removeSync();
    },
  };
}
