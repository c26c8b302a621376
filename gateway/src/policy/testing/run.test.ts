// The runner on the shipped policies and cases, and on broken copies of them: failures are reported
// (with file, line, JUnit <failure> and GitHub annotations), never thrown.

import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCedarPolicySet } from '../cedar-policies.ts';
import { loadCaseDirectory } from './cases.ts';
import { formatGithubAnnotations } from './report-github.ts';
import { formatJunitReport } from './report-junit.ts';
import { formatTextReport } from './report-text.ts';
import { runPolicyTests } from './run.ts';
import type { PolicyTestReport, PolicyTestResult } from './types.ts';

const REPO = fileURLToPath(new URL('../../../../', import.meta.url));

let work: string;
let buildDir: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'gatehouse-policy-run-'));
  buildDir = join(work, 'build');
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** A copy of this repository's policies and cases, to break. */
async function copyRepo(name: string): Promise<string> {
  const root = join(work, name);
  await cp(join(REPO, 'policies'), join(root, 'policies'), { recursive: true });
  await cp(join(REPO, 'policy-tests'), join(root, 'policy-tests'), { recursive: true });
  return root;
}

function failures(report: PolicyTestReport): Array<PolicyTestResult & { suite: string }> {
  return report.suites.flatMap((s) => s.results.filter((r) => r.status !== 'passed').map((r) => ({ ...r, suite: s.name })));
}

describe('runPolicyTests on the shipped policies', () => {
  let report: PolicyTestReport;
  const progress: string[] = [];
  beforeAll(async () => {
    report = await runPolicyTests({ root: REPO, buildDir, onProgress: (l) => progress.push(l) });
  }, 180_000);

  it('passes every suite, with both engines', () => {
    expect(failures(report)).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.suites.map((s) => s.name)).toEqual([
      'opa test policies/rego',
      'opa build policies/rego',
      'cedar validate policies/cedar',
      'case files',
      'cases rego',
      'cases cedar',
      'engines agree',
    ]);
    for (const s of report.suites) expect(s.results.length, s.name).toBeGreaterThan(0);
    const rego = report.suites.find((s) => s.name === 'cases rego')!.results.length;
    expect(report.suites.find((s) => s.name === 'cases cedar')!.results.length).toBe(rego);
    expect(report.suites.find((s) => s.name === 'engines agree')!.results.length).toBe(rego);
    expect(progress.some((l) => l.includes('against cedar'))).toBe(true);
  });

  it('has cases deciding by every policy id of the example set, in both engines', async () => {
    const ids = new Set(Object.keys((await readCedarPolicySet(join(REPO, 'policies/cedar'))).texts));
    ids.add('default-deny');
    const cases = (await loadCaseDirectory(join(REPO, 'policy-tests'), REPO)).flatMap((f) => f.cases);
    const covered = new Set(cases.filter((c) => c.engines.length === 2).flatMap((c) => c.expect.policies ?? []));
    expect([...ids].filter((id) => !covered.has(id))).toEqual([]);
  });

  it('reports results relative to the root, with lines', () => {
    const clinical = report.suites.find((s) => s.name === 'cases rego')!.results.find((r) => r.name === 'agent reads patients with identifiers masked');
    expect(clinical).toMatchObject({ file: 'policy-tests/clinical.yaml', line: 6, status: 'passed' });
    const opa = report.suites[0]!.results[0]!;
    expect(opa.file).toBe('policies/rego/gatehouse_test.rego');
    expect(opa.line).toBeGreaterThan(0);
  });
});

describe('runPolicyTests on examples/policy-repo', () => {
  it('passes with both engines', { timeout: 180_000 }, async () => {
    const report = await runPolicyTests({ root: join(REPO, 'examples/policy-repo'), buildDir });
    expect(failures(report)).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.suites.find((s) => s.name === 'engines agree')?.results.length).toBeGreaterThan(5);
  });
});

describe('runPolicyTests on broken copies', () => {
  it('a case with a wrong expected decision: not ok, named, in JUnit and as a GitHub annotation', { timeout: 180_000 }, async () => {
    const root = await copyRepo('wrong-decision');
    const file = join(root, 'policy-tests/statements.yaml');
    const text = await readFile(file, 'utf8');
    const lines = text.split('\n');
    const at = lines.findIndex((l) => l.includes('name: agent grants, denied'));
    expect(at).toBeGreaterThan(0);
    const decision = lines.findIndex((l, i) => i > at && l.includes('decision: deny'));
    lines[decision] = lines[decision]!.replace('decision: deny', 'decision: allow');
    await writeFile(file, lines.join('\n'));

    const report = await runPolicyTests({ root, buildDir });
    expect(report.ok).toBe(false);
    const failed = failures(report);
    expect(failed.map((f) => `${f.suite}|${f.name}|${f.file}:${f.line}`).sort()).toEqual([
      `cases cedar|agent grants, denied|policy-tests/statements.yaml:${at + 1}`,
      `cases rego|agent grants, denied|policy-tests/statements.yaml:${at + 1}`,
    ]);
    expect(failed[0]!.message).toContain('decision: expected allow, got deny');
    expect(failed[0]!.message).toContain('deny-grant');

    const textReport = formatTextReport(report);
    expect(textReport).toContain('✗ cases rego: ');
    expect(textReport).toContain(`✗ agent grants, denied (policy-tests/statements.yaml:${at + 1})`);
    expect(textReport).toContain('policy tests FAILED');

    const junit = formatJunitReport(report);
    expect(junit).toMatch(/<testcase name="agent grants, denied" classname="policy-tests\/statements.yaml"[^>]*>\s*<failure message="/);

    const github = formatGithubAnnotations(report, { workspace: root });
    expect(github).toContain(`::error file=policy-tests/statements.yaml,line=${at + 1},title=cases rego%3A agent grants%2C denied::`);
  });

  it('a Rego syntax error and an invalid Cedar policy: failed suites, no throw', { timeout: 180_000 }, async () => {
    const root = await copyRepo('syntax');
    await writeFile(join(root, 'policies/rego/broken.rego'), 'package gatehouse\n\nallow contains x if {\n');
    await writeFile(join(root, 'policies/cedar/broken.cedar'), '@id("broken")\npermit (principal, action, resource) when { context.nope };\n');
    const report = await runPolicyTests({ root, buildDir });
    expect(report.ok).toBe(false);
    const byName = Object.fromEntries(report.suites.map((s) => [s.name, s.results]));
    expect(byName['opa test policies/rego']).toEqual([
      expect.objectContaining({ status: 'failed', file: 'policies/rego/broken.rego', line: 4, message: expect.stringContaining('rego_parse_error') }),
    ]);
    expect(byName['opa build policies/rego']).toEqual([expect.objectContaining({ status: 'failed', file: 'policies/rego/broken.rego' })]);
    // One result per validation problem (here one per action the policy applies to).
    const cedar = byName['cedar validate policies/cedar'] ?? [];
    expect(cedar.length).toBeGreaterThan(0);
    for (const r of cedar) {
      expect(r).toMatchObject({ name: 'policy broken', status: 'failed', file: 'policies/cedar/broken.cedar', line: 1 });
      expect(r.message).toContain('attribute `nope`');
    }
    // Cases cannot run without an engine: said once per engine, not once per case.
    expect(byName['cases rego']).toEqual([expect.objectContaining({ status: 'error', message: expect.stringContaining('did not load') })]);
  });

  it('a policy listing suppress_redundant_updates_trigger as reviewed passes with a warning, in the text and GitHub reports (R17a-1)', { timeout: 180_000 }, async () => {
    const root = await copyRepo('revealing');
    await writeFile(join(root, 'policies/rego/revealing.rego'), 'package gatehouse\n\nreviewed contains f if {\n\tsome f in input.statement.trigger_functions\n\tf == "pg_catalog.suppress_redundant_updates_trigger"\n}\n');
    await writeFile(join(root, 'policies/cedar/revealing.cedar'), '@id("revealing")\n@reviewed("pg_catalog.suppress_redundant_updates_trigger")\nforbid (principal, action, resource) when { false };\n');
    const report = await runPolicyTests({ root, buildDir });
    expect(failures(report)).toEqual([]);
    expect(report.warnings?.map((w) => `${w.file}:${w.line}`)).toEqual(['policies/rego/revealing.rego:5', 'policies/cedar/revealing.cedar:2']);
    expect(formatTextReport(report)).toContain('warning: policies/rego/revealing.rego:5: the policy names suppress_redundant_updates_trigger');
    expect(formatGithubAnnotations(report, { workspace: root })).toContain('::warning file=policies/cedar/revealing.cedar,line=2,');
    expect(report.ok).toBe(true);
  });

  it('a failing *_test.rego fails the opa test suite', { timeout: 180_000 }, async () => {
    const root = await copyRepo('failing-opa-test');
    await writeFile(
      join(root, 'policies/rego/extra_test.rego'),
      [
        'package gatehouse_test',
        '',
        'import data.gatehouse',
        '',
        'test_agents_may_drop_tables if {',
        '\tagent_ddl := {"identity": {"groups": ["agents"], "roles": []}, "statement": {"kind": "ddl", "tables_read": [], "tables_written": [], "functions": []}}',
        '\tcount(gatehouse.deny) == 0 with input as agent_ddl',
        '}',
        '',
      ].join('\n'),
    );
    const report = await runPolicyTests({ root, buildDir, engines: ['rego'], casesDir: null });
    expect(report.ok).toBe(false);
    expect(failures(report)).toEqual([
      expect.objectContaining({ suite: 'opa test policies/rego', name: 'gatehouse_test.test_agents_may_drop_tables', file: 'policies/rego/extra_test.rego', line: 5, status: 'failed' }),
    ]);
  });

  it('engines that disagree fail even when the expectation is loose', { timeout: 180_000 }, async () => {
    const root = await copyRepo('disagree');
    const bench = join(root, 'policies/cedar/bench.cedar');
    await writeFile(bench, (await readFile(bench, 'utf8')).replace('@id("bench-read-write")', '@id("bench-access")'));
    await writeFile(
      join(root, 'policy-tests/loose.yaml'),
      'version: 1\ncases:\n  - name: bench reads, decision only\n    identity: { subject: b, groups: [bench] }\n    sql: SELECT * FROM pgbench_accounts WHERE aid = 1\n    expect: { decision: allow }\n',
    );
    const report = await runPolicyTests({ root, buildDir });
    const disagreements = report.suites.find((s) => s.name === 'engines agree')!.results.filter((r) => r.status !== 'passed');
    expect(disagreements.map((r) => r.name)).toContain('bench reads, decision only');
    const loose = disagreements.find((r) => r.name === 'bench reads, decision only')!;
    expect(loose).toMatchObject({ file: 'policy-tests/loose.yaml', line: 3 });
    expect(loose.message).toContain('engines differ on: policies');
    // The loose case itself passed in each engine.
    for (const name of ['cases rego', 'cases cedar']) {
      expect(report.suites.find((s) => s.name === name)!.results.find((r) => r.name === 'bench reads, decision only')?.status).toBe('passed');
    }
  });

  it('reports a missing directory or no policies at all as errors', async () => {
    const empty = await mkdtemp(join(work, 'empty-'));
    const none = await runPolicyTests({ root: empty, buildDir });
    expect(none.ok).toBe(false);
    expect(failures(none)[0]?.message).toContain('no policies found');
    const missing = await runPolicyTests({ root: empty, buildDir, engines: ['cedar'], casesDir: 'nope' });
    expect(failures(missing).map((f) => f.name)).toEqual(['cedar policies', 'case files']);
  });
});
