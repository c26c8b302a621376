import { mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { commitAll, createPolicyRepo } from './authoring.ts';
import { commitInfo, resolveRef } from './resolve-ref.ts';
import { openLocalRepo } from './git-repo.ts';

const ROOT = resolve(import.meta.dirname, '../../../..');
const AUTHOR = { name: 'Policy Author', email: 'author@example.invalid' };

describe('policy repository authoring', () => {
  it('creates a repository seeded with policies/ and policy-tests/, and commits changes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-authoring-'));
    const first = await createPolicyRepo(dir, ROOT, AUTHOR, 'seed');
    expect(existsSync(join(dir, 'policies/rego/gatehouse.rego'))).toBe(true);
    expect(existsSync(join(dir, 'policy-tests'))).toBe(true);
    const repo = openLocalRepo(dir, join(dir, '.commits'));
    expect(await resolveRef(repo, 'main')).toBe(first);

    expect(await commitAll(dir, 'nothing', AUTHOR)).toBeNull();
    writeFileSync(join(dir, 'policies/rego/extra.rego'), 'package gatehouse\n');
    const second = await commitAll(dir, 'Add a file', AUTHOR);
    expect(second).not.toBe(first);
    expect((await commitInfo(repo, second!)).subject).toBe('Add a file');
  });
});
