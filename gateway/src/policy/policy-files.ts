// Lists a policy directory's source files in a stable order and hashes their contents (revisions, build cache keys).

import { createHash } from 'node:crypto';
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';

export interface PolicyFile {
  /** Path relative to the policy directory, with "/" separators. */
  path: string;
  content: string;
}

export type PolicyLanguage = 'rego' | 'cedar';

/** Decision-relevant sources: `*.rego` without `*_test.rego`, or `*.cedar`. Hidden entries are skipped. */
export async function readPolicyFiles(dir: string, language: PolicyLanguage): Promise<PolicyFile[]> {
  const files: PolicyFile[] = [];
  await walk(dir, dir, language, files);
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** sha256 (hex) over every file's relative path and contents. */
export function hashPolicyFiles(files: readonly PolicyFile[], salt = ''): string {
  const hash = createHash('sha256');
  hash.update(salt);
  for (const file of files) {
    hash.update(`\u0000${file.path}\u0000${Buffer.byteLength(file.content)}\u0000`);
    hash.update(file.content);
  }
  return hash.digest('hex');
}

function isPolicySource(name: string, language: PolicyLanguage): boolean {
  switch (language) {
    case 'rego':
      return name.endsWith('.rego') && !name.endsWith('_test.rego');
    case 'cedar':
      return name.endsWith('.cedar');
    default: {
      const never: never = language;
      throw new Error(`unknown policy language ${String(never)}`);
    }
  }
}

/**
 * Symbolic links are followed, to files and to directories, as `opa build` follows them: the files
 * hashed into the revision and scanned for input reads must be the ones compiled (red-team round 7,
 * R7-7). A directory reached again through a link (a cycle) is walked once.
 */
async function walk(root: string, dir: string, language: PolicyLanguage, out: PolicyFile[], seen = new Set<string>()): Promise<void> {
  const real = await realpath(dir);
  if (seen.has(real)) return;
  seen.add(real);
  const entries = await readdir(dir, { withFileTypes: true });
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const full = join(dir, entry.name);
    const target = entry.isSymbolicLink() ? await stat(full).catch(() => null) : entry;
    if (target === null) continue; // a dangling link: opa cannot read it either
    if (target.isDirectory()) {
      await walk(root, full, language, out, seen);
    } else if (target.isFile() && isPolicySource(entry.name, language)) {
      out.push({ path: relative(root, full).split(sep).join('/'), content: await readFile(full, 'utf8') });
    }
  }
}
