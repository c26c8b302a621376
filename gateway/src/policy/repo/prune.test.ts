import { mkdirSync, mkdtempSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readPolicyFiles } from '../policy-files.ts';
import { regoModuleName } from '../rego-engine.ts';
import { pruneWorkDir, RECENT_CHECKOUTS_KEPT, STALE_TEMP_MS, type PruneOptions } from './prune.ts';

const NOW = Date.parse('2025-01-07T10:00:00Z');
const MINUTE = 60_000;

/** A fake 40-hex commit hash, distinct per n. */
const hash = (n: number): string => n.toString(16).padStart(40, '0');

interface WorkDir {
  commitsDir: string;
  buildDir: string;
  /** Creates commits/<hash>/policies/rego/p.rego (content distinct per commit unless given), used `ageMinutes` ago. */
  checkout(commit: string, ageMinutes: number, rego?: string): string;
  /** The build/ module name of a checkout's policies, as compileRegoDirectory would write it. */
  moduleOf(commit: string): Promise<string>;
  /** An empty file in build/. */
  artifact(name: string): void;
  /** A directory, its mtime set `ageMinutes` ago. */
  dir(path: string, ageMinutes: number): void;
  options(keep: string[], extra?: Partial<PruneOptions>): PruneOptions;
}

function workDir(): WorkDir {
  const root = mkdtempSync(join(tmpdir(), 'gatehouse-prune-'));
  const commitsDir = join(root, 'commits');
  const buildDir = join(root, 'build');
  mkdirSync(commitsDir);
  mkdirSync(buildDir);
  const setAge = (path: string, ageMinutes: number) => {
    const t = new Date(NOW - ageMinutes * MINUTE);
    utimesSync(path, t, t);
  };
  return {
    commitsDir,
    buildDir,
    checkout(commit, ageMinutes, rego = `package gatehouse\n\n# commit ${commit}\n`) {
      const dir = join(commitsDir, commit);
      mkdirSync(join(dir, 'policies/rego'), { recursive: true });
      writeFileSync(join(dir, 'policies/rego/p.rego'), rego);
      writeFileSync(join(dir, 'policies/rego/p_test.rego'), `package gatehouse_test\n# ${commit}\n`);
      setAge(dir, ageMinutes);
      return dir;
    },
    async moduleOf(commit) {
      return regoModuleName(await readPolicyFiles(join(commitsDir, commit, 'policies/rego'), 'rego'));
    },
    artifact(name) {
      writeFileSync(join(buildDir, name), '');
    },
    dir(path, ageMinutes) {
      mkdirSync(path, { recursive: true });
      setAge(path, ageMinutes);
    },
    options(keep, extra = {}) {
      return { commitsDir, buildDir, engine: 'rego', policyPath: 'policies/rego', keep, now: NOW, ...extra };
    },
  };
}

const sorted = (dir: string): string[] => readdirSync(dir).sort();

describe('pruneWorkDir', () => {
  it('keeps the active and the just-checked commit and the most recently used others', async () => {
    const w = workDir();
    // Commit 1 is active but the oldest; commit 2 was just checked; 3..10 used at increasing ages.
    w.checkout(hash(1), 500);
    w.checkout(hash(2), 400);
    for (let n = 3; n <= 10; n++) w.checkout(hash(n), n);

    const report = await pruneWorkDir(w.options([hash(1), hash(2)]));

    const recent = [3, 4, 5, 6].map(hash);
    expect(RECENT_CHECKOUTS_KEPT).toBe(4);
    expect(sorted(w.commitsDir)).toEqual([hash(1), hash(2), ...recent].sort());
    expect(report.kept.sort()).toEqual([hash(1), hash(2), ...recent].sort());
    expect(report.checkouts.sort()).toEqual([7, 8, 9, 10].map(hash).sort());
    expect(report.failures).toEqual([]);
  });

  it('honours a different number of recent checkouts, ties broken by name', async () => {
    const w = workDir();
    for (let n = 1; n <= 4; n++) w.checkout(hash(n), 5);
    await pruneWorkDir(w.options([], { recent: 2 }));
    expect(sorted(w.commitsDir)).toEqual([hash(1), hash(2)]);
  });

  it('removes the compiled modules only pruned checkouts used, and keeps shared and foreign files', async () => {
    const w = workDir();
    w.checkout(hash(1), 100, 'package gatehouse\n# shared\n');
    w.checkout(hash(2), 1);
    w.checkout(hash(9), 200, 'package gatehouse\n# shared\n');
    w.checkout(hash(8), 300);
    const shared = await w.moduleOf(hash(1));
    const mine = await w.moduleOf(hash(2));
    const gone = await w.moduleOf(hash(8));
    const orphan = `rego-${'e'.repeat(64)}.wasm`;
    for (const name of [shared, mine, gone, orphan, 'notes.txt']) w.artifact(name);

    const report = await pruneWorkDir(w.options([hash(1), hash(2)], { recent: 0 }));

    expect(sorted(w.commitsDir)).toEqual([hash(1), hash(2)]);
    // hash(9)'s module is hash(1)'s (same sources): it stays for the active commit.
    expect(sorted(w.buildDir)).toEqual([shared, mine, 'notes.txt'].sort());
    expect(report.modules.sort()).toEqual([gone, orphan].sort());
  });

  it('removes every compiled module for the Cedar engine, which compiles nothing into build/', async () => {
    const w = workDir();
    w.checkout(hash(1), 1);
    w.artifact(await w.moduleOf(hash(1)));
    await pruneWorkDir(w.options([hash(1)], { engine: 'cedar', policyPath: 'policies/cedar' }));
    expect(sorted(w.commitsDir)).toEqual([hash(1)]);
    expect(sorted(w.buildDir)).toEqual([]);
  });

  it('keeps what a commit without a policy directory needs: nothing', async () => {
    const w = workDir();
    w.dir(join(w.commitsDir, hash(1)), 1);
    w.artifact(`rego-${'a'.repeat(64)}.wasm`);
    const report = await pruneWorkDir(w.options([hash(1)]));
    expect(report.failures).toEqual([]);
    expect(sorted(w.commitsDir)).toEqual([hash(1)]);
    expect(sorted(w.buildDir)).toEqual([]);
  });

  it('removes temporary directories older than the limit, and leaves recent ones and unknown entries alone', async () => {
    const w = workDir();
    const staleMinutes = STALE_TEMP_MS / MINUTE + 1;
    w.dir(join(w.commitsDir, '.tmp-0123456789ab-old'), staleMinutes);
    w.dir(join(w.commitsDir, '.tmp-0123456789ab-new'), 1);
    w.dir(join(w.buildDir, '.build-old'), staleMinutes);
    w.dir(join(w.buildDir, '.build-new'), 1);
    w.dir(join(w.commitsDir, 'not-a-commit'), 10_000);
    writeFileSync(join(w.commitsDir, hash(7)), 'a file named like a commit');

    const report = await pruneWorkDir(w.options([]));

    expect(sorted(w.commitsDir)).toEqual(['.tmp-0123456789ab-new', hash(7), 'not-a-commit'].sort());
    expect(sorted(w.buildDir)).toEqual(['.build-new']);
    expect(report.temporary.sort()).toEqual([join(w.buildDir, '.build-old'), join(w.commitsDir, '.tmp-0123456789ab-old')].sort());
  });

  it('does nothing, and reports nothing, when the work directory is still empty', async () => {
    const root = mkdtempSync(join(tmpdir(), 'gatehouse-prune-'));
    const report = await pruneWorkDir({ commitsDir: join(root, 'commits'), buildDir: join(root, 'build'), engine: 'rego', policyPath: 'p', keep: [hash(1)] });
    expect(report).toEqual({ checkouts: [], modules: [], temporary: [], kept: [], failures: [] });
  });

  it('reports a failure instead of throwing, and then removes no module', async () => {
    const w = workDir();
    const commitsFile = join(w.buildDir, '..', 'commits-file');
    writeFileSync(commitsFile, '');
    w.artifact(`rego-${'b'.repeat(64)}.wasm`);
    const report = await pruneWorkDir(w.options([hash(1)], { commitsDir: commitsFile }));
    expect(report.failures).toHaveLength(1);
    expect(report.failures[0]).toContain(commitsFile);
    expect(sorted(w.buildDir)).toEqual([`rego-${'b'.repeat(64)}.wasm`]);
  });
});
