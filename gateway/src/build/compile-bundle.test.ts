import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const MODULE = new URL('./compile-bundle.js', import.meta.url).href;
const SOURCE = new URL('./young-generation.js', import.meta.url).href;

describe('compileBundle', () => {
  it('leaves no esbuild compiler process behind once its builds are done, and can build again', { timeout: 120_000 }, () => {
    // A fresh node: the child processes it has once its builds (two at once, then one more) returned.
    const script = `
      import { readFileSync, readdirSync } from 'node:fs';
      import { compileBundle } from ${JSON.stringify(MODULE)};
      const children = () => readdirSync('/proc/self/task').flatMap((t) => readFileSync('/proc/self/task/' + t + '/children', 'utf8').trim().split(' ').filter(Boolean))
        .map((pid) => { try { return readFileSync('/proc/' + pid + '/cmdline', 'utf8').split('\\0')[0]; } catch { return null; } }).filter((c) => c !== null);
      // esbuild's stop() signals its process and returns: give it a moment to exit (it stays for good without stop()).
      const settled = async () => {
        for (let i = 0; i < 100 && children().some((c) => c.includes('esbuild')); i++) await new Promise((r) => setTimeout(r, 50));
        return children();
      };
      const source = new URL(${JSON.stringify(SOURCE)});
      const first = await Promise.all([compileBundle(source, { prefix: 'gatehouse-test-cb-' }), compileBundle(source, { prefix: 'gatehouse-test-cb-' })]);
      const afterFirst = await settled();
      const second = await compileBundle(source, { prefix: 'gatehouse-test-cb-' });
      const mod = await import(second.entry.href);
      for (const b of [...first, second]) b.removeSync();
      console.log(JSON.stringify({ afterFirst, afterSecond: await settled(), exports: Object.keys(mod).sort() }));
    `;
    const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, NODE_OPTIONS: '' }, encoding: 'utf8' })) as { afterFirst: string[]; afterSecond: string[]; exports: string[] };
    expect(out.exports).toEqual(['holdYoungGeneration', 'releaseYoungGeneration']);
    expect(out.afterFirst.filter((c) => c.includes('esbuild'))).toEqual([]);
    expect(out.afterSecond.filter((c) => c.includes('esbuild'))).toEqual([]);
  });
});
