// `gatehouse policy` through the real executable: the repository's own policies pass, a broken copy
// fails with a readable message and a JUnit file, usage mistakes exit 2.

import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POLICY_SUBCOMMANDS, policyCommand } from './policy.ts';
import { runGatehouse } from '../../test/support/run-tool.ts';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));

function gatehouse(args: string[], env: Record<string, string> = {}): ReturnType<typeof runGatehouse> {
  return runGatehouse(args, { env });
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-cli-policy-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('gatehouse policy', () => {
  it('lists its subcommands, and its help carries each subcommand\'s options', { timeout: 120_000 }, async () => {
    expect(POLICY_SUBCOMMANDS.map((c) => c.name)).toContain('test');
    const [help, sub, none] = await Promise.all([gatehouse(['policy', '--help']), gatehouse(['policy', 'help', 'test']), gatehouse(['policy'])]);
    expect(help.code).toBe(0);
    expect(help.stdout).toBe(policyCommand.help);
    expect(help.stdout).toMatch(/Subcommands:\n\s+test\s+/);
    for (const option of ['--engine', '--cases', '--rego', '--cedar', '--junit', '--github', '--quiet']) expect(help.stdout).toContain(option);
    expect(sub.code).toBe(0);
    expect(sub.stdout).toContain('Usage: gatehouse policy test [DIR]');
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('a subcommand is required');
  });

  it('policy test passes on this repository: exit 0, summary on stdout, progress on stderr', { timeout: 180_000 }, async () => {
    const r = await gatehouse(['policy', 'test']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('✓ cases rego:');
    expect(r.stdout).toContain('✓ cases cedar:');
    expect(r.stdout).toContain('✓ engines agree:');
    expect(r.stdout).toMatch(/policy tests passed: \d+ passed\n$/);
    expect(r.stdout).not.toContain('::error');
    expect(r.stderr).toContain('gatehouse policy test: running');
  });

  it('policy test on a broken copy: exit 1, the failure explained, JUnit written, annotations under GitHub Actions', { timeout: 180_000 }, async () => {
    const root = join(dir, 'broken');
    await cp(join(REPO, 'policies'), join(root, 'policies'), { recursive: true });
    await cp(join(REPO, 'policy-tests'), join(root, 'policy-tests'), { recursive: true });
    const file = join(root, 'policy-tests/clinical.yaml');
    const text = await readFile(file, 'utf8');
    await writeFile(file, text.replace('decision: approve', 'decision: allow'));
    const line = text.split('\n').findIndex((l) => l.includes('name: agent updates one patient, approval needed')) + 1;
    const junit = join(dir, 'reports/junit.xml');

    const r = await gatehouse(['policy', 'test', root, '--junit', junit, '--quiet'], { GITHUB_ACTIONS: 'true', GITHUB_WORKSPACE: root });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain(`✗ agent updates one patient, approval needed (policy-tests/clinical.yaml:${line})`);
    expect(r.stdout).toContain('✗ decision: expected allow, got approve');
    expect(r.stdout).toContain('policies: expected clinical-write-approval, got the same');
    expect(r.stdout).toContain('policy tests FAILED');
    expect(r.stdout).toContain(`::error file=policy-tests/clinical.yaml,line=${line},title=cases rego%3A agent updates one patient%2C approval needed::`);
    const xml = await readFile(junit, 'utf8');
    expect(xml).toContain('<failure message="✗ decision: expected allow, got approve"');
  });

  it('exits 2 on usage errors', { timeout: 120_000 }, async () => {
    const runs = await Promise.all([
      gatehouse(['policy', 'test', '--engine', 'opa']),
      gatehouse(['policy', 'test', join(dir, 'does-not-exist')]),
      gatehouse(['policy', 'test', '--nope']),
      gatehouse(['policy', 'frobnicate']),
    ]);
    for (const r of runs) {
      expect(r.code, r.stderr).toBe(2);
      expect(r.stdout).toBe('');
    }
    expect(runs[0]!.stderr).toContain("--engine must be rego, cedar or both, not 'opa'");
    expect(runs[0]!.stderr).toBe("gatehouse policy test: --engine must be rego, cedar or both, not 'opa'\nTry 'gatehouse policy test --help' for more information.\n");
    expect(runs[3]!.stderr).toBe("gatehouse policy: unknown subcommand 'frobnicate'\nTry 'gatehouse policy --help' for more information.\n");
    expect(runs[1]!.stderr).toContain('is not a directory');
    expect(runs[3]!.stderr).toContain("unknown subcommand 'frobnicate'");
  });
});
