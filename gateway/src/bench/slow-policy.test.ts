import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { facts, input } from '../policy/example-inputs.ts';
import { loadPolicyEngine } from '../policy/load.ts';
import { hostileText, SLOW_POLICY_MARKER } from './hostile-client.ts';
import { writeSlowPolicyCopy } from './slow-policy.ts';

const REPO_ROOT = path.resolve(import.meta.dirname, '../../..');

describe('the bench\'s slow policy copy', () => {
  it('denies the marker statement with its own rule and decides everything else as the repository does', async () => {
    const work = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-slow-policy-'));
    try {
      const dir = await writeSlowPolicyCopy(path.join(REPO_ROOT, 'policies', 'rego'), path.join(work, 'rego'), 1_000);
      const engine = await loadPolicyEngine({ engine: 'rego', directory: dir, buildDir: path.join(work, 'build') });
      const select = facts('select', 'SelectStmt');
      const marked = engine.evaluate(input(['bench'], hostileText('slow-policy'), facts('select', 'SelectStmt', { functions: [SLOW_POLICY_MARKER] })));
      expect(marked.action).toBe('deny');
      expect(marked.policies).toContain('bench-slow-policy');
      const plain = engine.evaluate(input(['bench'], `SELECT '${SLOW_POLICY_MARKER}'`, select));
      expect(plain.policies).not.toContain('bench-slow-policy');
      // The rule reads nothing the repository's policies do not: the well-behaved traffic's decisions
      // are cached under the same keys with it as without it (the statement text is not one of them).
      const repository = await loadPolicyEngine({ engine: 'rego', directory: path.join(REPO_ROOT, 'policies', 'rego'), buildDir: path.join(work, 'build-repository') });
      expect(engine.reads).toEqual(repository.reads);
      expect(engine.reads).not.toEqual({ kind: 'all' });
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }, 120_000);
});
