import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openLocalRepo } from './git-repo.ts';
import { materializeCommit } from './materialize.ts';

const AUTHOR_ENV = { GIT_AUTHOR_NAME: 'A', GIT_AUTHOR_EMAIL: 'a@example.invalid', GIT_COMMITTER_NAME: 'A', GIT_COMMITTER_EMAIL: 'a@example.invalid' };
const git = (cwd: string, ...args: string[]): string => execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, ...AUTHOR_ENV } }).trim();

describe('materializeCommit', () => {
  it('checks a commit out once, and marks the directory used (mtime) each time it is asked for', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-materialize-'));
    git(dir, 'init', '-q', '-b', 'main');
    mkdirSync(join(dir, 'policies'));
    writeFileSync(join(dir, 'policies/p.rego'), 'package gatehouse\n');
    git(dir, 'add', '-A');
    git(dir, 'commit', '-q', '-m', 'first');
    const repo = openLocalRepo(dir, join(dir, '.commits'));

    const first = await materializeCommit(repo, 'main');
    expect(first.commit).toBe(git(dir, 'rev-parse', 'HEAD'));
    expect(readFileSync(join(first.dir, 'policies/p.rego'), 'utf8')).toBe('package gatehouse\n');
    expect(readdirSync(repo.commitsDir)).toEqual([first.commit]);
    expect(Date.now() - statSync(first.dir).mtimeMs).toBeLessThan(60_000);

    const longAgo = new Date('2020-01-01T00:00:00Z');
    utimesSync(first.dir, longAgo, longAgo);
    const inode = statSync(first.dir).ino;
    const again = await materializeCommit(repo, first.commit);
    expect(again.dir).toBe(first.dir);
    expect(statSync(again.dir).ino).toBe(inode);
    expect(statSync(again.dir).mtimeMs).toBeGreaterThan(longAgo.getTime() + 60_000);
  });
});
