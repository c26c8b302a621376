// Checks a commit's tree out into <commitsDir>/<hash>/, once: later calls reuse the directory.
// Each use touches the directory, so its mtime says when the commit was last used (see prune.ts).

import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { GitSourceError, type GitRepo } from './git-repo.ts';
import { resolveRef } from './resolve-ref.ts';

/** Checkouts in progress: `<prefix><short hash>-<uuid>` beside the finished `<hash>/` directories. */
export const CHECKOUT_TEMP_PREFIX = '.tmp-';

export interface MaterializedCommit {
  /** Full hash. */
  commit: string;
  /** The commit's files (the whole tree, as `git archive` exports it). */
  dir: string;
}

/**
 * Resolves ref and extracts that commit's tree into <commitsDir>/<hash>/. The tree is written to
 * a temporary directory first and renamed into place, so a directory named after a commit is
 * always complete; concurrent callers for the same commit end up sharing one.
 */
export async function materializeCommit(repo: GitRepo, ref: string): Promise<MaterializedCommit> {
  const commit = await resolveRef(repo, ref);
  const dir = join(repo.commitsDir, commit);
  if (existsSync(dir)) {
    await markUsed(dir);
    return { commit, dir };
  }
  await mkdir(repo.commitsDir, { recursive: true });
  const tmp = join(repo.commitsDir, `${CHECKOUT_TEMP_PREFIX}${commit.slice(0, 12)}-${randomUUID()}`);
  await mkdir(tmp);
  try {
    await extractTree(repo.dir, commit, tmp);
    try {
      await rename(tmp, dir);
    } catch (e) {
      // Someone else finished the same commit first: theirs is as good as ours.
      if (!existsSync(dir)) throw e;
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  await markUsed(dir);
  return { commit, dir };
}

/** Sets the directory's mtime to now: pruning keeps the most recently used checkouts. Best effort. */
async function markUsed(dir: string): Promise<void> {
  const now = new Date();
  await utimes(dir, now, now).catch(() => undefined);
}

/** git archive <commit> | tar -x -C dest */
function extractTree(gitDir: string, commit: string, dest: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const archive = spawn('git', ['-C', gitDir, 'archive', '--format=tar', commit], { stdio: ['ignore', 'pipe', 'pipe'] });
    const tar = spawn('tar', ['-x', '-f', '-', '-C', dest], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    archive.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    tar.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    archive.stdout.pipe(tar.stdin);
    let pending = 2;
    let failed = false;
    const done = (what: string) => (code: number | null) => {
      if (code !== 0 && !failed) {
        failed = true;
        reject(new GitSourceError(`cannot check out ${commit}: ${what} exited ${code}: ${stderr.trim()}`));
      }
      if (--pending === 0 && !failed) resolve();
    };
    archive.on('error', (e) => reject(new GitSourceError(`cannot run git: ${e.message}`)));
    tar.on('error', (e) => reject(new GitSourceError(`cannot run tar: ${e.message}`)));
    archive.on('close', done('git archive'));
    tar.on('close', done('tar'));
  });
}
