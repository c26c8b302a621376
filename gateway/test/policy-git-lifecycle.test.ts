// Policies followed from a real git repository (Rego): a new commit decides the very next statement
// of an already connected client; a commit that does not compile or fails its tests is refused and
// the previous one keeps deciding; a revert brings the older policy back under its new hash; the
// HTTP trigger, the status endpoint and `gatehouse policy status` report the active commit; old
// checkouts do not pile up in the work directory.

import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { stringify } from 'yaml';
import type { AuditRecord } from '../src/audit/types.ts';
import { policyStatusCommand } from '../src/cli/policy-status.ts';
import { loadConfig } from '../src/config/load.ts';
import { RECENT_CHECKOUTS_KEPT } from '../src/policy/repo/prune.ts';
import type { PolicyStatus } from '../src/policy/repo/status.ts';
import { startGateway, type RunningGateway } from '../src/server.ts';
import { testConfigDocument } from './support/gateway-config.ts';
import { ensureClinicDatabase, readAudit, sqlstateOf, recorded } from './support/harness.ts';
import { commitFiles, createTestPolicyRepo, git, READERS_SQL, readersCases, readersPolicy } from './support/policy-repo.ts';
import { connectedTokenClient } from './support/token-client.ts';


const READERS_POLICY = readersPolicy('rego');

const READERS_CASES = readersCases('rego');

describe('policies from git (rego): gated activation', () => {
  let repo: string;
  let workDir: string;
  let configFile: string;
  let auditFile: string;
  let gw: RunningGateway;
  let reader: pg.Client;
  const info: string[] = [];
  const token = 'a-shared-secret-for-the-webhook';

  const auditRecords = (): AuditRecord[] => readAudit(auditFile);
  const statementRevisions = (): string[] =>
    auditRecords().flatMap((r) => (r.type === 'statement' && r.statement === recorded(READERS_SQL) ? [r.revision ?? ''] : []));
  const policyEvents = (): { event: string; revision: string; reason: string | null }[] =>
    auditRecords().flatMap((r) => (r.type === 'policy' ? [{ event: r.event, revision: r.revision, reason: r.reason }] : []));

  beforeAll(async () => {
    repo = createTestPolicyRepo();
    workDir = mkdtempSync(join(tmpdir(), 'gatehouse-it-git-'));
    auditFile = join(workDir, 'audit.ndjson');
    const doc = await testConfigDocument(join(workDir, 'keys'), {
      upstream: { url: await ensureClinicDatabase() },
      policies: { engine: 'rego', git: { url: repo, poll_interval_seconds: 0, work_dir: 'policy-repo' }, eval_timeout_ms: 5000 },
      admin: { port: 0, refresh_token: token },
      audit: { file: 'audit.ndjson' },
    });
    configFile = join(workDir, 'gatehouse.yaml');
    writeFileSync(configFile, stringify(doc));
    gw = await startGateway(await loadConfig(configFile), { onInfo: (m) => info.push(m) });
    // The CLI reaches the admin listener through the config file: give it the port actually bound.
    writeFileSync(configFile, stringify({ ...doc, admin: { port: gw.adminPort, refresh_token: token } }));
    reader = await connectedTokenClient({ port: gw.port, keyDir: join(workDir, 'keys'), subject: 'reader-1', groups: ['lifecycle-readers'], user: 'reader' });
  });

  afterAll(async () => {
    await reader?.end().catch(() => undefined);
    await gw?.close();
  });

  const head = (): string => git(repo, 'rev-parse', 'HEAD');

  it('starts on the branch head, and every decision names that commit', async () => {
    const c1 = head();
    expect(gw.engine().revision).toBe(c1);
    expect(gw.policyStatus()?.active?.commit).toBe(c1);
    expect(gw.policyStatus()?.active?.subject).toBe('Initial policies');
    expect(await sqlstateOf(reader, READERS_SQL)).toBe('42501');
    expect(statementRevisions()).toEqual([c1]);
    expect(policyEvents()).toEqual([{ event: 'activated', revision: c1, reason: null }]);
  });

  it('activates a new commit: the same connected client is decided by it from its next statement', async () => {
    const c1 = head();
    const c2 = commitFiles(
      repo,
      { 'policies/rego/lifecycle.rego': READERS_POLICY, 'policy-tests/lifecycle.yaml': READERS_CASES },
      'Let lifecycle readers read visits',
    );
    const result = await gw.refreshPolicies();
    expect(result).toEqual({ outcome: 'activated', commit: c2, previous: c1 });
    expect((await reader.query(READERS_SQL)).rowCount).toBe(1);
    expect(statementRevisions()).toEqual([c1, c2]);
    expect(policyEvents().at(-1)).toEqual({ event: 'activated', revision: c2, reason: null });
    // Nothing new: nothing happens.
    expect(await gw.refreshPolicies()).toEqual({ outcome: 'unchanged', commit: c2 });
  });

  it('refuses a commit that does not compile; the previous commit keeps deciding', async () => {
    const c2 = head();
    const c3 = commitFiles(repo, { 'policies/rego/lifecycle.rego': `${READERS_POLICY}\nallow contains {"id": if {\n` }, 'Broken: syntax error');
    const result = await gw.refreshPolicies();
    expect(result?.outcome).toBe('refused');
    expect((await reader.query(READERS_SQL)).rowCount).toBe(1);
    expect(statementRevisions().at(-1)).toBe(c2);
    const refused = policyEvents().at(-1);
    expect(refused).toMatchObject({ event: 'refused', revision: c3 });
    expect(refused?.reason).toContain('lifecycle.rego');
    const status = gw.policyStatus();
    expect(status?.active?.commit).toBe(c2);
    expect(status?.last_refused?.commit).toBe(c3);
    expect(status?.last_refused?.reason).toBe(refused?.reason);
    expect(info.some((m) => m.includes(c3) && m.includes('refused'))).toBe(true);
  });

  it('a revert of the broken commit is activated under its own new hash', async () => {
    git(repo, 'revert', '--no-edit', 'HEAD');
    const c4 = head();
    expect(await gw.refreshPolicies()).toMatchObject({ outcome: 'activated', commit: c4 });
    expect((await reader.query(READERS_SQL)).rowCount).toBe(1);
    expect(statementRevisions().at(-1)).toBe(c4);
  });

  it('refuses a commit whose policy tests fail (a case still expects the old behaviour)', async () => {
    const c4 = head();
    const c5 = commitFiles(repo, { 'policies/rego/lifecycle.rego': READERS_POLICY.replace('"clinical.visits"', '"clinical.notes"') }, 'Readers: notes instead of visits');
    const result = await gw.refreshPolicies();
    expect(result).toMatchObject({ outcome: 'refused', commit: c5 });
    expect(result?.outcome === 'refused' ? result.reason : '').toContain('lifecycle readers read visits');
    expect((await reader.query(READERS_SQL)).rowCount).toBe(1);
    expect(statementRevisions().at(-1)).toBe(c4);
    expect(policyEvents().at(-1)).toMatchObject({ event: 'refused', revision: c5 });
    expect(gw.policyStatus()?.last_refused?.commit).toBe(c5);
  });

  it('POST /policy/refresh (the webhook) activates the next commit; GET /policy/status reports it', async () => {
    const base = `http://127.0.0.1:${gw.adminPort}`;
    git(repo, 'revert', '--no-edit', 'HEAD');
    const c6 = head();
    const denied = await fetch(`${base}/policy/refresh`, { method: 'POST' });
    expect(denied.status).toBe(401);
    const accepted = await fetch(`${base}/policy/refresh`, { method: 'POST', headers: { 'X-Gatehouse-Token': token }, body: '{"ref":"refs/heads/main"}' });
    expect(accepted.status).toBe(202);
    let status: PolicyStatus | null = null;
    for (let i = 0; i < 200 && status?.active?.commit !== c6; i++) {
      await new Promise((r) => setTimeout(r, 50));
      status = (await (await fetch(`${base}/policy/status`)).json()) as PolicyStatus;
    }
    expect(status?.active?.commit).toBe(c6);
    expect(status?.following).toEqual({ branch: 'main' });
    expect(status?.engine).toBe('rego');
    expect(status?.last_refused?.commit).not.toBe(c6);
    expect(status?.last_checked_at).not.toBeNull();
    expect((await reader.query(READERS_SQL)).rowCount).toBe(1);
    expect(statementRevisions().at(-1)).toBe(c6);
    // The same document is on disk for when the gateway is not reachable.
    const onDisk = JSON.parse(readFileSync(join(workDir, 'policy-repo', 'status.json'), 'utf8')) as PolicyStatus;
    expect(onDisk.active?.commit).toBe(c6);
    expect((await fetch(`${base}/policy/refresh`)).status).toBe(405);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });

  it('git revert of the feature brings the older policy back, under the revert commit', async () => {
    const c2 = git(repo, 'log', '--format=%H', '--grep', 'Let lifecycle readers read visits');
    git(repo, 'revert', '--no-edit', c2);
    const c7 = head();
    expect(await gw.refreshPolicies()).toMatchObject({ outcome: 'activated', commit: c7 });
    expect(await sqlstateOf(reader, READERS_SQL)).toBe('42501');
    expect(statementRevisions().at(-1)).toBe(c7);
    const denial = auditRecords().filter((r) => r.type === 'statement' && r.statement === recorded(READERS_SQL)).at(-1);
    expect(denial).toMatchObject({ decision: 'deny', revision: c7 });
  });

  it('a prepared statement is decided again at each Execute, by the commit active then', async () => {
    git(repo, 'revert', '--no-edit', 'HEAD');
    const allowedBy = head();
    expect(await gw.refreshPolicies()).toMatchObject({ outcome: 'activated', commit: allowedBy });
    const prepared = { name: 'lifecycle_visits', text: READERS_SQL };
    expect((await reader.query(prepared)).rowCount).toBe(1);
    git(repo, 'revert', '--no-edit', 'HEAD');
    const deniedBy = head();
    expect(await gw.refreshPolicies()).toMatchObject({ outcome: 'activated', commit: deniedBy });
    // node-postgres reuses the statement it prepared: this is Bind/Execute only.
    expect(await sqlstateOf(reader, prepared as unknown as string)).toBe('42501');
    const records = auditRecords().filter((r) => r.type === 'statement' && r.statement === recorded(READERS_SQL));
    expect(records.at(-1)).toMatchObject({ decision: 'deny', revision: deniedBy });
    expect(records.some((r) => r.type === 'statement' && r.revision === allowedBy && r.decision === 'allow')).toBe(true);
  });

  it('`gatehouse policy status` prints the active commit, from the admin listener and from status.json', async () => {
    const c7 = gw.engine().revision;
    expect(c7).toBe(head());
    const run = async (args: string[]): Promise<{ code: number; out: string }> => {
      let out = '';
      const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
        out += String(chunk);
        return true;
      });
      try {
        return { code: await policyStatusCommand.run(args), out };
      } finally {
        spy.mockRestore();
      }
    };
    const human = await run(['--config', configFile]);
    expect(human.code).toBe(0);
    expect(human.out).toContain(c7);
    expect(human.out).toContain('the running gateway');
    const json = await run(['--config', configFile, '--json']);
    expect((JSON.parse(json.out) as PolicyStatus).active?.commit).toBe(c7);

    // With the gateway gone, the CLI falls back to the status file it left.
    const stopped = join(workDir, 'stopped.yaml');
    const doc = readFileSync(configFile, 'utf8').replace(/port: \d+\n(\s*refresh_token)/, 'port: 1\n$1');
    writeFileSync(stopped, doc);
    const fromFile = await run(['--config', stopped]);
    expect(fromFile.code).toBe(0);
    expect(fromFile.out).toContain(c7);
    expect(fromFile.out).toContain('status.json');
  });

  it('keeps only the active commit and the most recently checked others checked out', () => {
    // Every commit of the branch was checked in order, and the head is active.
    const recent = git(repo, 'rev-list', `--max-count=${RECENT_CHECKOUTS_KEPT + 1}`, 'HEAD').split('\n');
    expect(recent[0]).toBe(gw.engine().revision);
    expect(git(repo, 'rev-list', '--count', 'HEAD')).not.toBe(String(recent.length));
    expect(readdirSync(join(workDir, 'policy-repo', 'commits')).sort()).toEqual(recent.sort());
  });
});
