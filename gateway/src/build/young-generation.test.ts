import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const MODULE = new URL('./young-generation.js', import.meta.url).href;

/**
 * Runs a fresh node (V8 flags are per process): optionally holds the young generation, allocates a
 * start-up-like burst in which much survives, optionally releases and allocates again; prints the
 * young generation's committed size (MB) after each burst and what hold returned.
 */
function youngGeneration(steps: { hold: boolean; release: boolean }, env: NodeJS.ProcessEnv = {}): { held: boolean; first: number; second: number } {
  const script = `
    import v8 from 'node:v8';
    import { holdYoungGeneration, releaseYoungGeneration } from ${JSON.stringify(MODULE)};
    const held = ${steps.hold} ? holdYoungGeneration() : false;
    const young = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').physical_space_size / 2 ** 20;
    const burst = () => { let keep = []; for (let i = 0; i < 600000; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 50000) keep = []; } };
    burst();
    const first = young();
    if (${steps.release}) releaseYoungGeneration();
    burst();
    console.log(JSON.stringify({ held, first, second: young() }));
  `;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, NODE_OPTIONS: '', ...env }, encoding: 'utf8' });
  return JSON.parse(out) as { held: boolean; first: number; second: number };
}

describe('holding the young generation during start-up', () => {
  it('keeps it at its initial size while held, where a burst otherwise grows it to several times that', () => {
    const free = youngGeneration({ hold: false, release: false });
    const held = youngGeneration({ hold: true, release: false });
    expect(held.held).toBe(true);
    expect(held.first).toBeLessThanOrEqual(2);
    expect(free.first).toBeGreaterThanOrEqual(4 * held.first);
    expect(held.second).toBeLessThanOrEqual(2); // still held: V8 may commit a page more or less of the same 2 MB
  });

  it('lets it grow again once released', () => {
    const r = youngGeneration({ hold: true, release: true });
    expect(r.first).toBeLessThanOrEqual(2);
    expect(r.second).toBeGreaterThanOrEqual(4 * r.first);
  });

  it('leaves semi-space flags the operator gave alone', () => {
    const r = youngGeneration({ hold: true, release: false }, { NODE_OPTIONS: '--max-semi-space-size=8' });
    expect(r.held).toBe(false);
  });
});
