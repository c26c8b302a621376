// The demo's policy repository: a local git repository seeded with the project's policies/ and
// policy-tests/, which the demo's Gatehouse follows (policies.git), so decisions and audit records
// carry real commit hashes. Created once and reused; when the project's policies change, the
// update is committed to it, and commits the user made there are kept otherwise.

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { commitAll, copyPolicyContent, createPolicyRepo, POLICY_REPO_CONTENT, type Author } from '../policy/repo/authoring.ts';
import { gitIn } from '../policy/repo/git-repo.ts';

/** Inside .git, so it is never committed: the fingerprint of the project files last copied in. */
const SYNCED_MARKER = 'gatehouse-demo-synced';

export interface DemoPolicyRepo {
  dir: string;
  /** The commit at the tip of main. */
  commit: string;
  subject: string;
  /** What happened to the repository on this start. */
  change: 'created' | 'updated' | 'unchanged' | 'kept-local-edits';
}

/** Commits are made as the demo, whatever the machine's git identity (or lack of one). */
const DEMO_AUTHOR: Author = { name: 'Gatehouse demo', email: 'demo@gatehouse.invalid' };

/** sha256 over the relative paths and contents of the project files the demo copies. */
export async function projectFingerprint(projectRoot: string): Promise<string> {
  const hash = createHash('sha256');
  for (const top of POLICY_REPO_CONTENT) {
    for (const file of await listFiles(path.join(projectRoot, top))) {
      hash.update(`${top}/${path.relative(path.join(projectRoot, top), file)}\0`);
      hash.update(await readFile(file));
      hash.update('\0');
    }
  }
  return hash.digest('hex');
}

async function listFiles(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(full)));
    else if (entry.isFile()) out.push(full);
  }
  return out.sort();
}

/** Replaces the repository's policy content with the project's (files deleted there go too). */
async function copyProjectFiles(projectRoot: string, dir: string): Promise<void> {
  for (const top of POLICY_REPO_CONTENT) await rm(path.join(dir, top), { recursive: true, force: true });
  await copyPolicyContent(projectRoot, dir);
}

/**
 * Makes dir a git repository (branch main) holding the project's policies/ and policy-tests/.
 * When the project's files changed since they were last copied, copies them again and commits,
 * unless the repository has uncommitted edits (they are left alone, with change 'kept-local-edits').
 */
export async function ensureDemoPolicyRepo(dir: string, projectRoot: string): Promise<DemoPolicyRepo> {
  const fingerprint = await projectFingerprint(projectRoot);
  const marker = path.join(dir, '.git', SYNCED_MARKER);
  let change: DemoPolicyRepo['change'];
  if (!existsSync(path.join(dir, '.git'))) {
    await createPolicyRepo(dir, projectRoot, DEMO_AUTHOR, 'Example policies from the Gatehouse project');
    change = 'created';
  } else {
    const synced = existsSync(marker) ? (await readFile(marker, 'utf8')).trim() : '';
    if (synced === fingerprint) change = 'unchanged';
    else if (!(await gitIn(dir).status()).isClean()) change = 'kept-local-edits';
    else {
      await copyProjectFiles(projectRoot, dir);
      const commit = await commitAll(dir, "Update the example policies from the project's policies/", DEMO_AUTHOR);
      change = commit === null ? 'unchanged' : 'updated';
    }
  }
  if (change !== 'kept-local-edits') await writeFile(marker, `${fingerprint}\n`);
  const [commit = '', subject = ''] = (await gitIn(dir).raw(['log', '-1', '--format=%H%x00%s', 'main'])).trim().split('\0');
  return { dir, commit, subject, change };
}
