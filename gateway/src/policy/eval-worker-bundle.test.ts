import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { EvalPool } from './eval-pool.ts';
import { bundleEvalWorker } from './eval-worker-bundle.ts';
import { input, readPatients, SCENARIOS } from './example-inputs.ts';
import { loadPolicyEngine } from './load.ts';
import type { PolicyEngine } from './types.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
let rego: PolicyEngine;
let cedar: PolicyEngine;

beforeAll(async () => {
  const buildDir = mkdtempSync(join(tmpdir(), 'gatehouse-bundle-'));
  rego = await loadPolicyEngine({ engine: 'rego', directory: join(ROOT, 'policies/rego'), buildDir });
  cedar = await loadPolicyEngine({ engine: 'cedar', directory: join(ROOT, 'policies/cedar'), buildDir });
});

describe('the compiled evaluation worker', () => {
  it('is plain JavaScript in a private directory: no TypeScript imported, packages by absolute URL, Cedar only in its own chunk', async () => {
    const bundle = await bundleEvalWorker();
    try {
      const dir = dirname(fileURLToPath(bundle.entry));
      const files = readdirSync(dir);
      expect(files).toContain('eval-worker.mjs');
      const texts = files.map((f) => readFileSync(join(dir, f), 'utf8'));
      for (const text of texts) expect(text).not.toMatch(/from ["'][^"']*\.ts["']/);
      const entry = readFileSync(fileURLToPath(bundle.entry), 'utf8');
      expect(entry).not.toContain('cedar-wasm');
      expect(entry).not.toContain('opa-wasm');
      expect(texts.some((t) => /from "file:\/\/\/[^"]*@cedar-policy\/cedar-wasm\//.test(t))).toBe(true);
    } finally {
      await bundle.remove();
    }
  });

  it('gives the verdicts the engines give in-process, for both engines, and its files are removed when the pool closes', async () => {
    const bundle = await bundleEvalWorker();
    const dir = dirname(fileURLToPath(bundle.entry));
    const pool = new EvalPool({ workers: 1, spares: 0, bundle });
    try {
      for (const engine of [rego, cedar]) {
        for (const s of SCENARIOS.slice(0, 8)) {
          const pooled = await pool.evaluate(engine, s.input, 5000);
          expect(pooled.verdict, `${engine.kind}: ${s.name}`).toEqual(engine.evaluate(s.input));
          expect(pooled.stopped).toBeUndefined();
        }
      }
      const ok = input(['agents'], 'SELECT 1', readPatients);
      expect((await pool.evaluate(rego, ok, 5000)).verdict).toEqual(rego.evaluate(ok));
    } finally {
      await pool.close();
    }
    expect(existsSync(dir)).toBe(false);
  });

  it('is compiled once for the pools of a process: the files stay until the last pool using them closes', async () => {
    const first = await bundleEvalWorker();
    const second = await bundleEvalWorker();
    expect(second.entry.href).toBe(first.entry.href);
    const dir = dirname(fileURLToPath(first.entry));
    const a = new EvalPool({ workers: 1, spares: 0, bundle: first });
    const b = new EvalPool({ workers: 1, spares: 0, bundle: second });
    await a.close();
    expect(existsSync(dir)).toBe(true);
    const ok = input(['agents'], 'SELECT 1', readPatients);
    expect((await b.evaluate(rego, ok, 5000)).verdict).toEqual(rego.evaluate(ok));
    await b.close();
    expect(existsSync(dir)).toBe(false);
    const third = await bundleEvalWorker();
    expect(third.entry.href).not.toBe(first.entry.href);
    await third.remove();
  });

  it('is removed when its process exits without closing the pool (process.exit)', () => {
    const script = [
      `import { compileBundle } from ${JSON.stringify(new URL('../build/compile-bundle.js', import.meta.url).href)};`,
      `const b = await compileBundle(new URL(${JSON.stringify(new URL('./eval-worker.ts', import.meta.url).href)}), { prefix: 'gatehouse-exit-test-' });`,
      'process.stdout.write(b.entry.href);',
      'process.exit(0);',
    ].join('\n');
    const entry = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(entry).toMatch(/gatehouse-exit-test-.*eval-worker\.mjs$/);
    expect(existsSync(dirname(fileURLToPath(entry)))).toBe(false);
  });
});
