// A git repository Gatehouse reads policies from: a local mirror of a remote kept in a work
// directory (the server's case), or any existing local repository (the CLI's case).

import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';

/** A repository to read commits from, and where its commits are checked out. */
export interface GitRepo {
  /** A bare repository (the mirror), a .git directory, or a working tree. */
  dir: string;
  /** Where materializeCommit() puts <commit>/ directories. */
  commitsDir: string;
}

export class GitSourceError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GitSourceError';
  }
}

/** Interactive helpers a server never runs (simple-git also refuses them in the environment it is given). */
const INTERACTIVE_ENV = new Set(['EDITOR', 'VISUAL', 'PAGER', 'GIT_EDITOR', 'GIT_SEQUENCE_EDITOR', 'GIT_PAGER', 'GIT_ASKPASS', 'SSH_ASKPASS']);

/**
 * simple-git bound to a directory. Git never prompts (a server has no terminal). The rest of the
 * operator's environment is kept, including GIT_SSH_COMMAND and GIT_CONFIG_* for deploy keys
 * and proxies: it is Gatehouse's own configuration, not input from a client.
 */
export function gitIn(dir: string, extraEnv: Record<string, string> = {}): SimpleGit {
  const env: Record<string, string> = { GIT_TERMINAL_PROMPT: '0' };
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !INTERACTIVE_ENV.has(key.toUpperCase())) env[key] = value;
  }
  Object.assign(env, extraEnv);
  env['GIT_TERMINAL_PROMPT'] = '0';
  return simpleGit({
    baseDir: dir,
    allowEnvironment: Object.keys(env).filter((k) => k.startsWith('GIT_')),
    unsafe: { allowUnsafeSshCommand: true, allowUnsafeConfigPaths: true, allowUnsafeConfigEnvCount: true, allowUnsafeGitProxy: true },
  }).env(env);
}

/** An existing local repository (working tree or bare), with checkouts kept under commitsDir. */
export function openLocalRepo(dir: string, commitsDir: string): GitRepo {
  return { dir, commitsDir };
}

/**
 * Makes <workDir>/mirror.git a mirror of url (cloning it the first time, following a changed
 * url afterwards) and fetches every branch and tag. Checkouts go to <workDir>/commits/.
 */
export async function syncMirror(url: string, workDir: string): Promise<GitRepo> {
  const dir = join(workDir, 'mirror.git');
  const repo: GitRepo = { dir, commitsDir: join(workDir, 'commits') };
  await mkdir(workDir, { recursive: true });
  try {
    if (!existsSync(join(dir, 'HEAD'))) {
      await rm(dir, { recursive: true, force: true });
      await gitIn(workDir).clone(url, dir, ['--mirror', '--quiet']);
      return repo;
    }
    const git = gitIn(dir);
    const current = (await git.raw(['config', '--get', 'remote.origin.url'])).trim();
    if (current !== url) await git.raw(['remote', 'set-url', 'origin', url]);
    await git.raw(['fetch', '--prune', '--prune-tags', '--quiet', 'origin']);
    return repo;
  } catch (cause) {
    throw new GitSourceError(`cannot fetch ${url}: ${firstLine(cause)}`, { cause });
  }
}

export function firstLine(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.split('\n').find((l) => l.trim() !== '')?.trim() ?? text;
}
