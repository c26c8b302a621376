// Policies followed from a real git repository leave a bounded work directory: after each activated
// or refused commit, commits/ holds the active commit, the one just checked and the most recently
// used others, and build/ only the compiled modules those checkouts use. A branch reset to a pruned
// commit checks it out again and activates it; one to a kept commit reuses its checkout and module.

import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPolicyFiles } from '../src/policy/policy-files.ts';
import { regoModuleName } from '../src/policy/rego-engine.ts';
import { GitPolicySource } from '../src/policy/repo/git-policy-source.ts';
import { RECENT_CHECKOUTS_KEPT } from '../src/policy/repo/prune.ts';
import { commitFiles, createTestPolicyRepo, git } from './support/policy-repo.ts';

describe('policies from git (rego): old checkouts are pruned', () => {
  let repo: string;
  let workDir: string;
  let source: GitPolicySource;
  const info: string[] = [];
  /** Every commit checked, oldest use first; a commit used again moves to the end. */
  const used: string[] = [];
  /** Commits refused at compile time: they have no module in build/. */
  const uncompilable = new Set<string>();

  const commitsDir = (): string => join(workDir, 'commits');
  const buildDir = (): string => join(workDir, 'build');
  const checkouts = (): string[] => readdirSync(commitsDir()).sort();
  const modules = (): string[] => readdirSync(buildDir()).filter((n) => n.endsWith('.wasm')).sort();
  const moduleOf = async (commit: string): Promise<string | null> => {
    const files = await readPolicyFiles(join(commitsDir(), commit, 'policies/rego'), 'rego').catch(() => []);
    return files.length === 0 ? null : regoModuleName(files);
  };
  const check = (commit: string): void => {
    const at = used.indexOf(commit);
    if (at >= 0) used.splice(at, 1);
    used.push(commit);
  };
  /** The active commit, the one just checked, and the RECENT_CHECKOUTS_KEPT most recently used others. */
  const expectedCheckouts = (): string[] => {
    const active = source.current().revision;
    const checked = used.at(-1)!;
    const others = used.filter((c) => c !== active && c !== checked).slice(-RECENT_CHECKOUTS_KEPT);
    return [...new Set([active, checked, ...others])].sort();
  };
  const expectPruned = async (): Promise<void> => {
    expect(checkouts()).toEqual(expectedCheckouts());
    const compiled = checkouts().filter((c) => !uncompilable.has(c));
    const wanted = new Set((await Promise.all(compiled.map(moduleOf))).filter((m): m is string => m !== null));
    expect(modules()).toEqual([...wanted].sort());
    expect(modules()).toContain(await moduleOf(source.current().revision));
  };
  const head = (): string => git(repo, 'rev-parse', 'HEAD');
  const ruleFile = (n: number): Record<string, string> => ({
    [`policies/rego/prune_${n}.rego`]: `package gatehouse\n\n# revision ${n}: a distinct module per commit\nprune_marker_${n} := ${n}\n`,
  });

  beforeAll(async () => {
    repo = createTestPolicyRepo();
    workDir = mkdtempSync(join(tmpdir(), 'gatehouse-it-prune-'));
    source = new GitPolicySource({
      engine: 'rego',
      git: { url: repo, branch: 'main', pin: null, path: 'policies/rego', tests: 'policy-tests', pollIntervalSeconds: 0, workDir },
      onInfo: (m) => info.push(m),
    });
  });

  afterAll(async () => {
    await source?.stop();
  });

  it('keeps the active, the just-checked and the most recently used commits as commits are activated and refused', async () => {
    const c1 = head();
    expect(await source.start()).toMatchObject({ outcome: 'activated', commit: c1 });
    check(c1);
    await expectPruned();

    for (let n = 2; n <= 8; n++) {
      const broken = n === 5;
      const commit = commitFiles(repo, broken ? { 'policies/rego/prune_broken.rego': 'package gatehouse\n\nallow contains {"id": if {\n' } : ruleFile(n), `Commit ${n}`);
      if (broken) {
        expect(await source.refresh('api')).toMatchObject({ outcome: 'refused', commit });
        uncompilable.add(commit);
        // The next commit repairs it.
        git(repo, 'rm', '-q', 'policies/rego/prune_broken.rego');
      } else {
        expect(await source.refresh('api')).toMatchObject({ outcome: 'activated', commit });
      }
      check(commit);
      await expectPruned();
    }

    expect(checkouts()).toHaveLength(RECENT_CHECKOUTS_KEPT + 1);
    expect(checkouts()).not.toContain(c1);
    expect(info.some((m) => m.includes('pruned'))).toBe(true);
    expect(info.filter((m) => m.includes('pruning'))).toEqual([]);
  });

  it('a branch reset to a pruned commit checks it out again and activates it', async () => {
    const c1 = git(repo, 'rev-list', '--max-parents=0', 'HEAD');
    expect(checkouts()).not.toContain(c1);
    git(repo, 'reset', '-q', '--hard', c1);
    expect(await source.refresh('api')).toMatchObject({ outcome: 'activated', commit: c1 });
    check(c1);
    expect(source.current().revision).toBe(c1);
    expect(checkouts()).toContain(c1);
    await expectPruned();
  });

  it('a branch reset to a recently used commit reuses its checkout and compiled module', async () => {
    const recent = used.at(-2)!;
    expect(checkouts()).toContain(recent);
    const dir = join(commitsDir(), recent);
    const module = join(buildDir(), (await moduleOf(recent))!);
    const before = { dir: statSync(dir).ino, module: statSync(module).ino };
    git(repo, 'reset', '-q', '--hard', recent);
    expect(await source.refresh('api')).toMatchObject({ outcome: 'activated', commit: recent });
    check(recent);
    expect({ dir: statSync(dir).ino, module: statSync(module).ino }).toEqual(before);
    await expectPruned();
  });
});
