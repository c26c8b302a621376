// What the git policy source reports about itself (GET /policy/status, <work_dir>/status.json,
// `gatehouse policy status`): the active commit, the last refusal, what is followed.

import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EngineKind } from '../types.ts';

export interface PolicyStatus {
  engine: EngineKind;
  /** The repository (credentials removed) and the policy directory inside it. */
  source: { url: string; path: string; tests: string | null };
  following: { branch: string } | { pin: string };
  active: { commit: string; subject: string; activated_at: string } | null;
  last_refused: { commit: string; at: string; reason: string } | null;
  /** The last time the repository could not be fetched or the ref resolved (nothing was tried). */
  last_error: { at: string; reason: string } | null;
  last_checked_at: string | null;
}

export const STATUS_FILE = 'status.json';

/** Writes <workDir>/status.json atomically (a reader never sees half a file). */
export async function writeStatusFile(workDir: string, status: PolicyStatus): Promise<void> {
  const file = join(workDir, STATUS_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(status, null, 2)}\n`);
  await rename(tmp, file);
}

/** The last status a gateway wrote into workDir, or null when there is none. */
export async function readStatusFile(workDir: string): Promise<PolicyStatus | null> {
  try {
    return JSON.parse(await readFile(join(workDir, STATUS_FILE), 'utf8')) as PolicyStatus;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** The URL as shown in a status: user and password removed. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username === '' && u.password === '') return url;
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return url;
  }
}
