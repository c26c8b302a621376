// Names to commits: a branch, tag or (abbreviated) hash → the full commit hash, and what a commit says about itself.

import { firstLine, gitIn, GitSourceError, type GitRepo } from './git-repo.ts';

export interface CommitInfo {
  /** Full 40-hex hash. */
  commit: string;
  /** The first line of the commit message. */
  subject: string;
  /** Committer date, ISO 8601. */
  committedAt: string;
}

/** The full hash of the commit ref names (branch, tag, hash, or any git revision), or a GitSourceError. */
export async function resolveRef(repo: GitRepo, ref: string): Promise<string> {
  if (ref.startsWith('-')) throw new GitSourceError(`not a git revision: ${ref}`);
  try {
    return (await gitIn(repo.dir).raw(['rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`])).trim() || missing(ref);
  } catch (cause) {
    if (cause instanceof GitSourceError) throw cause;
    throw new GitSourceError(`cannot resolve ${ref}: ${firstLine(cause)}`, { cause });
  }
}

function missing(ref: string): never {
  throw new GitSourceError(`no commit named ${ref} in the repository`);
}

/** Subject line and date of a commit. */
export async function commitInfo(repo: GitRepo, commit: string): Promise<CommitInfo> {
  const out = await gitIn(repo.dir).raw(['log', '-1', '--format=%H%x00%s%x00%cI', commit, '--']);
  const [hash = commit, subject = '', committedAt = ''] = out.trim().split('\0');
  return { commit: hash, subject, committedAt };
}
