// Writes to a local policy repository: creates one seeded with a project's policies/ and
// policy-tests/, and commits changes as a fixed author. Used by the demo, the bench and tests;
// the gateway itself only ever reads repositories.

import { cp, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { gitIn } from './git-repo.ts';

/** What a policy repository holds, by convention (see docs/policy-lifecycle.md). */
export const POLICY_REPO_CONTENT = ['policies', 'policy-tests'] as const;

export interface Author {
  name: string;
  email: string;
}

/** Copies the project's policies/ and policy-tests/ into dir (replacing what is there). */
export async function copyPolicyContent(projectRoot: string, dir: string): Promise<void> {
  for (const top of POLICY_REPO_CONTENT) {
    const from = path.join(projectRoot, top);
    if (existsSync(from)) await cp(from, path.join(dir, top), { recursive: true, force: true });
  }
}

/** Stages everything and commits it as author; returns the new commit hash, or null when nothing changed. */
export async function commitAll(dir: string, message: string, author: Author): Promise<string | null> {
  const git = gitIn(dir, {
    GIT_AUTHOR_NAME: author.name,
    GIT_AUTHOR_EMAIL: author.email,
    GIT_COMMITTER_NAME: author.name,
    GIT_COMMITTER_EMAIL: author.email,
  });
  await git.add(['-A']);
  if ((await git.status()).isClean()) return null;
  await git.commit(message);
  return (await git.revparse(['HEAD'])).trim();
}

/** git init -b main in dir, seeded from projectRoot's policy content and committed; returns the commit. */
export async function createPolicyRepo(dir: string, projectRoot: string, author: Author, message = 'Example policies'): Promise<string> {
  await mkdir(dir, { recursive: true });
  await gitIn(dir).init(['-q', '-b', 'main']);
  await copyPolicyContent(projectRoot, dir);
  const commit = await commitAll(dir, message, author);
  if (commit === null) throw new Error(`no policy content in ${projectRoot} to seed ${dir} with`);
  return commit;
}
