// The README's first command, verified: the demo's self-check passes with both engines.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDemo } from './run-demo.ts';

describe('gatehouse demo --self-check', () => {
  let stateDir = '';
  beforeAll(async () => {
    stateDir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-demo-test-'));
  });
  afterAll(async () => {
    await rm(stateDir, { recursive: true, force: true });
  });

  for (const engine of ['rego', 'cedar'] as const) {
    it(`allows, masks and denies as the README says (${engine})`, { timeout: 180_000 }, async () => {
      const lines: string[] = [];
      const code = await runDemo({
        host: '127.0.0.1',
        port: null,
        engine,
        policiesDir: null,
        stateDir,
        fresh: false,
        selfCheck: true,
        patients: 200,
        print: (line) => lines.push(line),
      });
      expect(code, lines.join('\n')).toBe(0);
      expect(lines.filter((line) => line.trimStart().startsWith('FAIL'))).toEqual([]);
      expect(lines.filter((line) => line.trimStart().startsWith('PASS'))).toHaveLength(7);
    });
  }
});
