import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const MODULE = new URL('./pg-preload.js', import.meta.url).href;

/** A fresh node (undici, once loaded, stays for the process's lifetime): loads pg with or without the preload. */
function loadPg(preload: boolean): { hidden: boolean | null; undici: boolean; response: string; client: string } {
  const script = `
    import { preloadPg } from ${JSON.stringify(MODULE)};
    const hidden = ${preload} ? await preloadPg() : null;
    const pg = (await import('pg')).default;
    const undici = process.moduleLoadList.some((m) => m.includes('undici'));
    console.log(JSON.stringify({ hidden, undici, response: typeof Response, client: typeof pg.Client }));
  `;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, NODE_OPTIONS: '' }, encoding: 'utf8' });
  return JSON.parse(out) as { hidden: boolean | null; undici: boolean; response: string; client: string };
}

describe('loading node-postgres without waking fetch', () => {
  it("pg alone loads Node's fetch implementation (its Cloudflare check constructs a Response)", { timeout: 60_000 }, () => {
    expect(loadPg(false)).toMatchObject({ undici: true, client: 'function' });
  });

  it('preloaded, pg works and undici is not loaded; the global Response is back afterwards', { timeout: 60_000 }, () => {
    expect(loadPg(true)).toEqual({ hidden: true, undici: false, response: 'function', client: 'function' });
  });
});
