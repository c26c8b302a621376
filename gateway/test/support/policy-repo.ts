// Real git repositories for policy tests: one seeded with this project's policies/ and
// policy-tests/, commits made with a fixed author, synchronous so scenarios read top to bottom.

import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import { REPO_ROOT } from './harness.ts';

const AUTHOR_ENV = {
  GIT_AUTHOR_NAME: 'Policy Author',
  GIT_AUTHOR_EMAIL: 'author@example.invalid',
  GIT_COMMITTER_NAME: 'Policy Author',
  GIT_COMMITTER_EMAIL: 'author@example.invalid',
};

/** Runs git in cwd and returns its trimmed standard output. */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, ...AUTHOR_ENV } }).trim();
}

/** Writes (or, for null, deletes) files and commits them; returns the new commit's hash. */
export function commitFiles(repo: string, files: Record<string, string | null>, message: string): string {
  for (const [file, content] of Object.entries(files)) {
    const path = join(repo, file);
    if (content === null) rmSync(path);
    else {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, content);
    }
  }
  git(repo, 'add', '-A');
  git(repo, 'commit', '-q', '-m', message);
  return git(repo, 'rev-parse', 'HEAD');
}

/** A new repository on branch main holding this project's policies/ and policy-tests/, committed. */
export function createTestPolicyRepo(message = 'Initial policies'): string {
  const repo = mkdtempSync(join(tmpdir(), 'gatehouse-policy-repo-'));
  git(repo, 'init', '-q', '-b', 'main');
  for (const top of ['policies', 'policy-tests']) cpSync(join(REPO_ROOT, top), join(repo, top), { recursive: true });
  git(repo, 'add', '-A');
  git(repo, 'commit', '-q', '-m', message);
  return repo;
}

/** The statement the "lifecycle readers" scenarios run: a read of clinical.visits. */
export const READERS_SQL = 'SELECT id FROM clinical.visits ORDER BY id LIMIT 1';

/** A policy allowing the "lifecycle-readers" group READERS_SQL (rule lifecycle-readers-visits), on one engine. */
export function readersPolicy(engine: 'rego' | 'cedar'): string {
  switch (engine) {
    case 'rego':
      return `package gatehouse

allow contains {"id": "lifecycle-readers-visits", "reason": "readers may read visits", "on": "read", "table": t} if {
	member("lifecycle-readers")
	some t in input.statement.tables_read
	t == "clinical.visits"
}
`;
    case 'cedar':
      return `@id("lifecycle-readers-visits")
@reason("readers may read visits")
permit (
  principal in Gatehouse::Group::"lifecycle-readers",
  action == Gatehouse::Action::"read",
  resource == Gatehouse::Table::"clinical.visits"
);
`;
  }
}

/** A policy-tests file expecting the "lifecycle-readers" group to be allowed READERS_SQL on one engine. */
export function readersCases(engine: 'rego' | 'cedar'): string {
  return stringify({
    version: 1,
    cases: [
      {
        name: 'lifecycle readers read visits',
        identity: { subject: 'reader-1', groups: ['lifecycle-readers'] },
        sql: READERS_SQL,
        engines: [engine],
        expect: { decision: 'allow' },
      },
    ],
  });
}
