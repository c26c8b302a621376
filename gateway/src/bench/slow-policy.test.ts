import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { facts, input } from '../policy/example-inputs.ts';
import { loadPolicyEngine } from '../policy/load.ts';
import { SLOW_POLICY_MARKER } from './hostile-client.ts';
import { writeSlowPolicyCopy } from './slow-policy.ts';

const REPO_ROOT = path.resolve(import.meta.dirname, '../../..');

describe('the bench\'s slow policy copy', () => {
  it('denies the marker statement with its own rule and decides everything else as the repository does', async () => {
    const work = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-slow-policy-'));
    try {
      const dir = await writeSlowPolicyCopy(path.join(REPO_ROOT, 'policies', 'rego'), path.join(work, 'rego'), 1_000);
      const engine = await loadPolicyEngine({ engine: 'rego', directory: dir, buildDir: path.join(work, 'build') });
      const select = facts('select', 'SelectStmt');
      const marked = engine.evaluate(input(['bench'], `SELECT '${SLOW_POLICY_MARKER}'`, select));
      expect(marked.action).toBe('deny');
      expect(marked.policies).toContain('bench-slow-policy');
      const plain = engine.evaluate(input(['bench'], 'SELECT 1', select));
      expect(plain.policies).not.toContain('bench-slow-policy');
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }, 120_000);
});
