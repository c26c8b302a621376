// `gatehouse policy diff` on a real git repository: between a base commit (the example policies) and
// a head commit that stops masking phone numbers for agents and denies break-glass reads of visits,
// it lists exactly the inputs whose decision changed, for both engines: the policy-test cases of both
// commits, and the statements a real Gatehouse audited while serving the base policies.

import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { runPolicyDiff } from '../src/policy/diff/diff.ts';
import type { InputChange, PolicyDiffReport } from '../src/policy/diff/types.ts';
import type { EngineKind } from '../src/policy/types.ts';
import { REPO_ROOT, startTestGateway, recorded } from './support/harness.ts';
import { git } from './support/policy-repo.ts';
import { runGatehouse } from './support/run-tool.ts';

function edit(file: string, change: (text: string) => string): void {
  const before = readFileSync(file, 'utf8');
  const after = change(before);
  if (after === before) throw new Error(`test setup: ${file} did not change`);
  writeFileSync(file, after);
}

const BREAKGLASS_VISITS_REGO = `
deny contains {"id": "breakglass-no-visits", "reason": "break-glass does not cover visits"} if {
	member("breakglass")
	"clinical.visits" in input.statement.tables_read
}
`;

const BREAKGLASS_VISITS_CEDAR = `
@id("breakglass-no-visits")
@reason("break-glass does not cover visits")
forbid (principal in Gatehouse::Group::"breakglass", action == Gatehouse::Action::"read", resource == Gatehouse::Table::"clinical.visits");
`;

/** A case only the head commit has: its input is new, and its decision changes too. */
const HEAD_ONLY_CASE = 'breakglass reads visits, denied';
const HEAD_CASES = stringify({
  version: 1,
  cases: [{ name: HEAD_ONLY_CASE, identity: { subject: 'dr-house', groups: ['breakglass'] }, sql: 'SELECT reason FROM clinical.visits WHERE id = 1', expect: { decision: 'deny', policies: ['breakglass-no-visits'] } }],
});

/**
 * The cases of this repository's policy-tests/ whose decision the head commit changes: agents
 * reading clinical.patients (every identifier column is masked, so phone changes whatever the
 * query names), and break-glass statements reading clinical.visits (denied already, now also by
 * the new policy). A new case of that kind in policy-tests/ belongs in this list.
 */
const CHANGED_CASES = [
  'agent reads patients with identifiers masked',
  'agent (by role) joins patients and visits, masked',
  'agent reads patients through an unqualified name and search_path',
  'agent copies patients to the client, masked',
  'agent reads dates of birth, replaced by a fake date in the same year',
  'pg_catalog.pg_notify() inside a WITH is denied even for breakglass',
  'breakglass reads visit notes as written',
  'a break-glass support desk reads visit notes as written',
  'COPY a query to a server file is denied even for breakglass',
  'pg_ls_dir inside a query on visits is denied',
  // A write target counts as read (masking at the source): these writes read patients (whose
  // phone mask the head drops) or visits (which the head denies breakglass), so their verdict
  // changes too (masks, or the deciding policies).
  'agent updates one patient, approval needed',
  'agent deletes every patient, denied rather than sent for approval',
  'breakglass deletes every visit, denied too',
  HEAD_ONLY_CASE,
].sort();

const AGENT_PATIENTS = 'SELECT id, diagnosis_code FROM clinical.patients ORDER BY id LIMIT 3';
const AGENT_VISITS = 'SELECT reason FROM clinical.visits ORDER BY id LIMIT 2';
const ONCALL_VISITS = 'SELECT reason FROM clinical.visits ORDER BY id LIMIT 1';
const ONCALL_PATIENTS = 'SELECT first_name, phone FROM clinical.patients ORDER BY id LIMIT 1';
const AGENT_DROP = 'DROP TABLE clinical.visits';

let repo: string;
let cacheDir: string;
let auditFile: string;
let base: string;
let head: string;

const caseNames = (changes: readonly InputChange[], engine: EngineKind): string[] =>
  changes
    .filter((c) => c.engines.includes(engine))
    .flatMap((c) => c.origins.flatMap((o) => (o.type === 'case' ? [o.name] : [])))
    .sort();
const auditedStatements = (changes: readonly InputChange[], engine: EngineKind): string[] =>
  changes
    .filter((c) => c.engines.includes(engine) && c.origins.some((o) => o.type === 'audit'))
    .map((c) => `${c.input.identity.subject}: ${c.input.statement.text}`)
    .sort();

beforeAll(async () => {
  repo = mkdtempSync(join(tmpdir(), 'gatehouse-policy-diff-repo-'));
  cacheDir = mkdtempSync(join(tmpdir(), 'gatehouse-policy-diff-cache-'));
  git(repo, 'init', '-q', '-b', 'main');
  cpSync(join(REPO_ROOT, 'policies'), join(repo, 'policies'), { recursive: true });
  cpSync(join(REPO_ROOT, 'policy-tests'), join(repo, 'policy-tests'), { recursive: true });
  git(repo, 'add', '-A');
  git(repo, 'commit', '-q', '-m', 'Example policies');
  base = git(repo, 'rev-parse', 'HEAD');

  // Real traffic under the base policies: a Gatehouse serving them, its audit log kept.
  const t = await startTestGateway({ engine: 'rego', policiesDir: join(repo, 'policies', 'rego') });
  try {
    const agent = await t.token('agent-7', ['agents']);
    const oncall = await t.token('dr-oncall', ['breakglass']);
    for (let i = 0; i < 2; i++) {
      const c = await t.client(agent);
      await c.query(AGENT_PATIENTS);
      await c.query(AGENT_VISITS);
      await c.query(AGENT_DROP).catch(() => undefined);
      await c.end();
    }
    const o = await t.client(oncall);
    await o.query(ONCALL_VISITS);
    await o.query(ONCALL_PATIENTS);
    const records = await t.auditUntil((rs) => rs.filter((r) => r.type === 'statement').length >= 8);
    expect(records.filter((r) => r.type === 'statement')).toHaveLength(8);
    auditFile = t.auditFile;
  } finally {
    await t.close();
  }

  // The change under review, in both engines.
  edit(join(repo, 'policies/rego/clinical.rego'), (s) => s.replace(/\n\s*"phone": "last4",/, '') + BREAKGLASS_VISITS_REGO);
  edit(join(repo, 'policies/cedar/clinical.cedar'), (s) => s.replace('phone:last4,', '') + BREAKGLASS_VISITS_CEDAR);
  writeFileSync(join(repo, 'policy-tests', 'breakglass-visits.yaml'), HEAD_CASES);
  git(repo, 'add', '-A');
  git(repo, 'commit', '-q', '-m', 'Unmask phone for agents; no break-glass reads of visits');
  head = git(repo, 'rev-parse', 'HEAD');
});

afterAll(() => {
  rmSync(repo, { recursive: true, force: true });
  rmSync(cacheDir, { recursive: true, force: true });
});

const diff = (extra: { auditFiles?: string[] } = {}): Promise<PolicyDiffReport> =>
  runPolicyDiff({
    repo,
    base: 'main~1',
    head: 'main',
    engines: 'available',
    policyPaths: { rego: 'policies/rego', cedar: 'policies/cedar' },
    casesPath: 'policy-tests',
    auditFiles: extra.auditFiles ?? [],
    cacheDir,
  });

describe('gatehouse policy diff', () => {
  it('lists exactly the cases whose decision changed, for both engines', async () => {
    const report = await diff();
    expect(report.base.commit).toBe(base);
    expect(report.head.commit).toBe(head);
    expect(report.engines).toEqual(['rego', 'cedar']);
    for (const engine of ['rego', 'cedar'] as const) {
      expect(caseNames(report.changes, engine), engine).toEqual(CHANGED_CASES);
    }
    // Unchanged decisions are absent, even those touching the changed tables.
    const listed = report.changes.flatMap((c) => c.origins.flatMap((o) => (o.type === 'case' ? [o.name] : [])));
    for (const name of ['agent reads visits unmasked', 'breakglass reads patients unmasked', 'agent who is also breakglass reads patients unmasked']) {
      expect(listed).not.toContain(name);
    }
    // What changed, precisely.
    const masked = report.changes.find((c) => c.origins.some((o) => o.type === 'case' && o.name === 'agent reads patients with identifiers masked'));
    expect(masked?.masks).toEqual([{ table: 'clinical.patients', column: 'phone', base: 'last4', head: null }]);
    expect(masked?.base.action).toBe('mask');
    expect(masked?.head.action).toBe('mask');
    const headOnly = report.changes.find((c) => c.origins.some((o) => o.type === 'case' && o.name === HEAD_ONLY_CASE));
    expect(headOnly?.origins).toEqual([expect.objectContaining({ side: 'head' })]);
    expect({ base: headOnly?.base.action, head: headOnly?.head.action, policies: headOnly?.head.policies }).toEqual({
      base: 'allow',
      head: 'deny',
      policies: ['breakglass-no-visits'],
    });
    // Cases of both commits, each distinct input once: a case both commits hold is one input.
    expect(masked?.origins).toEqual([expect.objectContaining({ type: 'case', side: 'both' })]);
    expect(report.counts.changed).toBe(CHANGED_CASES.length);
    expect(report.counts.changedByEngine).toEqual({ rego: CHANGED_CASES.length, cedar: CHANGED_CASES.length });
  });

  it('lists the audited statements the change affects, once per distinct input with its count', async () => {
    const report = await diff({ auditFiles: [auditFile] });
    expect(report.counts.auditRecords).toBe(8);
    for (const engine of ['rego', 'cedar'] as const) {
      expect(auditedStatements(report.changes, engine), engine).toEqual([`agent-7: ${recorded(AGENT_PATIENTS)}`, `dr-oncall: ${recorded(ONCALL_VISITS)}`].sort());
    }
    const patients = report.changes.find((c) => c.input.statement.text === recorded(AGENT_PATIENTS));
    expect(patients?.origins).toEqual([{ type: 'audit', file: auditFile, records: 2 }]);
    expect(patients?.masks).toEqual([{ table: 'clinical.patients', column: 'phone', base: 'last4', head: null }]);
    const visits = report.changes.find((c) => c.input.statement.text === recorded(ONCALL_VISITS));
    expect({ base: visits?.base.action, head: visits?.head.action }).toEqual({ base: 'allow', head: 'deny' });
    // The cases are still there, and nothing unchanged was audited into the list.
    expect(caseNames(report.changes, 'rego')).toEqual(CHANGED_CASES);
    // (Audited texts are recorded with literals as $n, so two statements can share a text: compare who ran what.)
    const audited = auditedStatements(report.changes, 'rego');
    for (const unchanged of [`agent-7: ${recorded(AGENT_VISITS)}`, `dr-oncall: ${recorded(ONCALL_PATIENTS)}`, `agent-7: ${recorded(AGENT_DROP)}`]) {
      expect(audited).not.toContain(unchanged);
    }
  });

  it('runs as a CLI: JSON report, exit 1 with --fail-on-change, exit 2 for a ref that does not resolve', { timeout: 180_000 }, async () => {
    const gatehouse = (args: string[]): ReturnType<typeof runGatehouse> =>
      runGatehouse(['policy', 'diff', '--repo', repo, '--cache-dir', cacheDir, ...args]);
    const [changed, missing] = await Promise.all([
      gatehouse(['--base', base, '--head', 'main', '--audit', auditFile, '--format', 'json', '--fail-on-change', '--quiet']),
      gatehouse(['--base', 'no-such-branch', '--head', 'main']),
    ]);
    expect(changed.code, changed.stderr).toBe(1);
    const doc = JSON.parse(changed.stdout) as { counts: { changed: number; inputs: number }; changes: Array<{ what: string; engines: string[] }> };
    expect(doc.counts.changed).toBe(CHANGED_CASES.length + 2);
    expect(doc.changes.map((c) => c.what)).toEqual(expect.arrayContaining([...CHANGED_CASES, recorded(AGENT_PATIENTS), recorded(ONCALL_VISITS)]));
    expect(changed.stderr).toContain(`${doc.counts.inputs} inputs evaluated, ${CHANGED_CASES.length + 2} changed`);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--base no-such-branch');
  });
});
