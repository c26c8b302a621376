import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readPolicyFiles } from './policy-files.ts';

describe('readPolicyFiles', () => {
  it('reads what opa build compiles: linked files and directories too, hidden entries and tests not (R7-7)', async () => {
    const outside = mkdtempSync(join(tmpdir(), 'gatehouse-policy-files-outside-'));
    writeFileSync(join(outside, 'shared.rego'), 'package gatehouse\n');
    mkdirSync(join(outside, 'lib'));
    writeFileSync(join(outside, 'lib', 'helpers.rego'), 'package gatehouse\n');
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-policy-files-'));
    writeFileSync(join(dir, 'main.rego'), 'package gatehouse\n');
    writeFileSync(join(dir, 'main_test.rego'), 'package gatehouse\n');
    mkdirSync(join(dir, '.drafts'));
    writeFileSync(join(dir, '.drafts', 'draft.rego'), 'package gatehouse\n');
    symlinkSync(join(outside, 'shared.rego'), join(dir, 'shared.rego'));
    symlinkSync(join(outside, 'lib'), join(dir, 'lib'));
    symlinkSync(dir, join(dir, 'loop')); // a cycle is walked once
    symlinkSync(join(outside, 'missing.rego'), join(dir, 'dangling.rego'));
    const files = await readPolicyFiles(dir, 'rego');
    expect(files.map((f) => f.path)).toEqual(['lib/helpers.rego', 'main.rego', 'shared.rego']);
  });
});
