// `gatehouse audit explain`: decisions a real gateway made under two commits of a real git policy
// repository (Cedar) are re-evaluated from the audit log, each under its own commit, and match;
// the same log with a decision edited is a mismatch (exit 1); an unknown decision is a usage error.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../src/audit/types.ts';
import { configFromObject } from '../src/config/load.ts';
import { startGateway, type RunningGateway } from '../src/server.ts';
import { testConfigDocument } from './support/gateway-config.ts';
import { ensureClinicDatabase, readAudit, recorded, sqlstateOf } from './support/harness.ts';
import { commitFiles, createTestPolicyRepo, git, READERS_SQL, readersCases, readersPolicy } from './support/policy-repo.ts';
import { runGatehouse } from './support/run-tool.ts';
import { connectedTokenClient } from './support/token-client.ts';


type StatementRecord = Extract<AuditRecord, { type: 'statement' }>;

describe('gatehouse audit explain', () => {
  let repo: string;
  let gw: RunningGateway;
  let reader: pg.Client;
  let auditFile: string;
  let cacheDir: string;
  let c1: string;
  let c2: string;

  beforeAll(async () => {
    repo = createTestPolicyRepo();
    c1 = git(repo, 'rev-parse', 'HEAD');
    const keyDir = mkdtempSync(join(tmpdir(), 'gatehouse-it-keys-'));
    const workDir = mkdtempSync(join(tmpdir(), 'gatehouse-it-explain-'));
    cacheDir = join(workDir, 'cache');
    auditFile = join(workDir, 'audit.ndjson');
    const config = configFromObject(
      await testConfigDocument(keyDir, {
        upstream: { url: await ensureClinicDatabase() },
        policies: { engine: 'cedar', git: { url: repo, poll_interval_seconds: 0 }, eval_timeout_ms: 5000 },
        audit: { file: auditFile },
      }),
      workDir,
    );
    gw = await startGateway(config);
    reader = await connectedTokenClient({ port: gw.port, keyDir, subject: 'reader-1', groups: ['lifecycle-readers'], user: 'reader' });
  }, 180_000);

  afterAll(async () => {
    await reader?.end().catch(() => undefined);
    await gw?.close();
  });

  const decisionsOf = (): StatementRecord[] =>
    readAudit(auditFile).filter((r): r is StatementRecord => r.type === 'statement' && r.statement === recorded(READERS_SQL));

  const explain = (...args: string[]) => runGatehouse(['audit', 'explain', ...args, '--repo', repo, '--cache-dir', cacheDir, '--audit', auditFile]);

  it('reproduces decisions made under two commits, each under its own', { timeout: 300_000 }, async () => {
    expect(await sqlstateOf(reader, READERS_SQL)).toBe('42501');
    c2 = commitFiles(repo, { 'policies/cedar/lifecycle.cedar': readersPolicy('cedar'), 'policy-tests/lifecycle.yaml': readersCases('cedar') }, 'Let lifecycle readers read visits');
    expect(await gw.refreshPolicies()).toMatchObject({ outcome: 'activated', commit: c2 });
    expect((await reader.query(READERS_SQL)).rowCount).toBe(1);
    const [denied, allowed] = decisionsOf();
    expect([denied?.revision, denied?.decision]).toEqual([c1, 'deny']);
    expect([allowed?.revision, allowed?.decision]).toEqual([c2, 'allow']);

    const first = await explain(denied!.decision_id, '--json');
    expect(first.code, first.stderr).toBe(0);
    const one = JSON.parse(first.stdout) as { record: { revision: string }; evaluated: { action: string; policies: string[] }; mismatches: string[] };
    expect(one.record.revision).toBe(c1);
    expect(one.evaluated.action).toBe('deny');
    expect(one.mismatches).toEqual([]);

    const second = await explain(allowed!.decision_id);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain(`cedar at commit ${c2}`);
    expect(second.stdout).toMatch(/re-evaluated:\n {2}decision: allow\n {2}policies: lifecycle-readers-visits/);
    // The deciding policy is shown where the commit has it: the file and line of its @id.
    expect(second.stdout).toContain('lifecycle-readers-visits: policies/cedar/lifecycle.cedar:1');
    expect(second.stdout).toContain('MATCH');
  });

  it('reports a mismatch when the record was edited, and exit 2 for a decision it cannot find', { timeout: 300_000 }, async () => {
    const allowed = decisionsOf()[1]!;
    const lines = readFileSync(auditFile, 'utf8').split('\n');
    const edited = lines.map((l) => (l.includes(`"decision_id":"${allowed.decision_id}"`) && l.includes('"type":"statement"') ? l.replace('"decision":"allow"', '"decision":"deny"') : l));
    expect(edited).not.toEqual(lines);
    const editedFile = join(cacheDir, '..', 'edited.ndjson');
    writeFileSync(editedFile, edited.join('\n'));
    const mismatch = await runGatehouse(['audit', 'explain', allowed.decision_id, '--repo', repo, '--cache-dir', cacheDir, '--audit', editedFile]);
    expect(mismatch.code, mismatch.stderr).toBe(1);
    expect(mismatch.stdout).toContain('MISMATCH: action differ');

    const missing = await explain('00000000-0000-4000-8000-000000000000');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no statement record with decision_id 00000000-0000-4000-8000-000000000000');
  });
});
