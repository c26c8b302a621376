// `gatehouse serve` as a real child process, driven by signals: SIGHUP activates a new commit
// from policies.git (polling is off, so only the signal can), SIGHUP after log rotation writes to
// a fresh audit file while the renamed one keeps the old records, SIGTERM exits with status 0.
// It runs compiled, not through tsx (bin/gatehouse.js), and removes its compiled files at exit.

import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { AuditRecord } from '../src/audit/types.ts';
import type { PolicyStatus } from '../src/policy/repo/status.ts';
import { writeTestConfig } from './support/gateway-config.ts';
import { auditText, ensureClinicDatabase, readAudit, sqlstateOf, recorded } from './support/harness.ts';
import { commitFiles, createTestPolicyRepo, git, READERS_SQL, readersCases, readersPolicy } from './support/policy-repo.ts';
import { tokenClient } from './support/token-client.ts';
import { loggedPort, SERVE_START_TIMEOUT_MS, spawnServe, type ServeProcess } from './support/serve-process.ts';
import { waitFor } from './support/wait-for.ts';

/** A generous safety net for a noisy machine: a test fails at it instead of hanging. */
const CONDITION_TIMEOUT_MS = 60_000;

describe('gatehouse serve: SIGHUP refreshes policies and reopens the audit file, SIGTERM exits 0', () => {
  let repo: string;
  let workDir: string;
  let auditFile: string;
  let serve: ServeProcess;
  let adminPort: number;
  let reader: pg.Client;
  let readerEnded = false;
  /** What the idle client was told when the gateway stopped (pg emits it as an 'error' event). */
  let readerError: (Error & { code?: string }) | null = null;
  let commitA: string;
  let commitB: string;
  /** The child's temporary directory (TMPDIR): where its compiled code is. */
  let childTmp: string;
  const compiledDirs = (): string[] => readdirSync(childTmp).filter((d) => /^gatehouse-(cli|eval-worker)-/.test(d)).map((d) => d.replace(/-[^-]+$/, ''));

  const readersRecords = (file = auditFile): AuditRecord[] =>
    readAudit(file).filter((r) => r.type === 'statement' && r.statement === recorded(READERS_SQL));
  const outcomeWritten = (file: string, id: string): boolean => readAudit(file).some((r) => r.type === 'outcome' && r.decision_id === id);
  const policyStatus = async (): Promise<PolicyStatus> => (await (await fetch(`http://127.0.0.1:${adminPort}/policy/status`)).json()) as PolicyStatus;
  const hangup = (): void => {
    expect(serve.hasExited()).toBe(false);
    serve.child.kill('SIGHUP');
  };

  /** Runs READERS_SQL; returns its SQLSTATE (null: allowed) and its audit record once its outcome is written too. */
  const runReaders = async (): Promise<{ sqlstate: string | null; record: AuditRecord }> => {
    const before = new Set(readersRecords().map((r) => (r.type === 'statement' ? r.decision_id : '')));
    const sqlstate = await sqlstateOf(reader, READERS_SQL);
    const record = await waitFor('the audit record of the statement and its outcome', () =>
      readersRecords().find((r) => r.type === 'statement' && !before.has(r.decision_id) && outcomeWritten(auditFile, r.decision_id)),
    );
    return { sqlstate, record };
  };

  beforeAll(async () => {
    repo = createTestPolicyRepo();
    commitA = git(repo, 'rev-parse', 'HEAD');
    workDir = mkdtempSync(join(tmpdir(), 'gatehouse-it-serve-'));
    const keyDir = join(workDir, 'keys');
    auditFile = join(workDir, 'audit.ndjson');
    const configFile = await writeTestConfig(workDir, {
      upstream: { url: await ensureClinicDatabase() },
      // Polling off: only a signal (or the admin webhook, unused here) can activate a new commit.
      policies: { engine: 'rego', git: { url: repo, poll_interval_seconds: 0, work_dir: 'policy-repo' }, eval_timeout_ms: 5000 },
      admin: { port: 0 },
      audit: { file: 'audit.ndjson' },
    });
    childTmp = join(workDir, 'tmp');
    mkdirSync(childTmp);
    serve = spawnServe(configFile, { GATEHOUSE_OPA: inject('gatehouseOpa'), TMPDIR: childTmp });
    const ports = await waitFor(
      'gatehouse serve to log its listening ports',
      () => {
        if (serve.hasExited()) throw new Error(`gatehouse serve exited during startup:\n${serve.logs.map((l) => l.msg).join('\n')}`);
        const port = loggedPort(serve.logs, /^listening on 127\.0\.0\.1:(\d+) /);
        const admin = loggedPort(serve.logs, /^admin: listening on http:\/\/127\.0\.0\.1:(\d+)$/);
        return port !== undefined && admin !== undefined ? { port, admin } : undefined;
      },
      SERVE_START_TIMEOUT_MS,
    );
    adminPort = ports.admin;
    reader = await tokenClient({ port: ports.port, keyDir, subject: 'reader-1', groups: ['lifecycle-readers'], user: 'reader' });
    reader.on('error', (e: Error & { code?: string }) => (readerError ??= e));
    reader.on('end', () => (readerEnded = true));
    await reader.connect();
  }, SERVE_START_TIMEOUT_MS + 30_000);

  afterAll(async () => {
    await reader?.end().catch(() => undefined);
    if (serve !== undefined && !serve.hasExited()) {
      serve.child.kill('SIGKILL');
      await serve.exited;
    }
    for (const dir of [workDir, repo]) if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('runs compiled to plain JavaScript, the CLI and the evaluation workers alike (no tsx loader threads)', () => {
    expect(compiledDirs().sort()).toEqual(['gatehouse-cli', 'gatehouse-eval-worker']);
  });

  it('serves commit A: the statement is denied and its audit record names A', async () => {
    expect((await policyStatus()).active?.commit).toBe(commitA);
    const { sqlstate, record } = await runReaders();
    expect(sqlstate).toBe('42501');
    expect(record).toMatchObject({ decision: 'deny', revision: commitA });
  });

  it('a new commit is not picked up on its own; after SIGHUP it decides the next statement', async () => {
    commitB = commitFiles(
      repo,
      { 'policies/rego/lifecycle.rego': readersPolicy('rego'), 'policy-tests/lifecycle.yaml': readersCases('rego') },
      'Let lifecycle readers read visits',
    );
    // Without a signal nothing fetches the repository: A still decides.
    expect((await runReaders()).record).toMatchObject({ decision: 'deny', revision: commitA });
    expect((await policyStatus()).active?.commit).toBe(commitA);

    hangup();
    await waitFor('commit B to be active', async () => ((await policyStatus()).active?.commit === commitB ? true : undefined));
    const onDisk = JSON.parse(readFileSync(join(workDir, 'policy-repo', 'status.json'), 'utf8')) as PolicyStatus;
    expect(onDisk.active?.commit).toBe(commitB);
    expect(readAudit(auditFile).filter((r) => r.type === 'policy').map((r) => (r.type === 'policy' ? [r.event, r.revision] : []))).toEqual([
      ['activated', commitA],
      ['activated', commitB],
    ]);

    // The same connected client, decided by B from its next statement.
    const { sqlstate, record } = await runReaders();
    expect(sqlstate).toBeNull();
    expect(record).toMatchObject({ decision: 'allow', revision: commitB });
  });

  it('after the audit file is renamed, SIGHUP makes new records go to a fresh file at the configured path', async () => {
    const rotated = `${auditFile}.1`;
    // Every record so far, outcomes included, is in the file (runReaders waited for the last outcome).
    const before = auditText(auditFile); // the zero tail of the live file is cut when it is closed
    const oldIds = new Set(readAudit(auditFile).flatMap((r) => ('decision_id' in r ? [r.decision_id] : [])));
    renameSync(auditFile, rotated);
    expect(existsSync(auditFile)).toBe(false);

    hangup();
    await waitFor('the audit file to be reopened at its configured path', () => (existsSync(auditFile) ? true : undefined));
    const { sqlstate, record } = await runReaders();
    expect(sqlstate).toBeNull();
    expect(record).toMatchObject({ decision: 'allow', revision: commitB });

    // The fresh file holds the new statement (and its outcome), nothing from before the rotation.
    const fresh = readAudit(auditFile);
    expect(fresh.filter((r) => r.type === 'statement')).toEqual([record]);
    expect(fresh.some((r) => 'decision_id' in r && oldIds.has(r.decision_id))).toBe(false);
    // The renamed file keeps exactly the old records, and gets nothing new.
    expect(readFileSync(rotated, 'utf8')).toBe(before);
    expect(readersRecords(rotated).map((r) => (r.type === 'statement' ? [r.decision, r.revision] : []))).toEqual([
      ['deny', commitA],
      ['deny', commitA],
      ['allow', commitB],
    ]);
  });

  it('SIGTERM ends the open session with 57P01 (admin shutdown) and the process exits with status 0', async () => {
    expect(serve.hasExited()).toBe(false);
    serve.child.kill('SIGTERM');
    const exit = await Promise.race([
      serve.exited,
      new Promise<'still running'>((r) => setTimeout(() => r('still running'), CONDITION_TIMEOUT_MS).unref()),
    ]);
    expect(exit).toEqual({ code: 0, signal: null });
    await waitFor('the connected client to see its connection end', () => (readerEnded ? true : undefined));
    // Told as PostgreSQL tells it on a shutdown, not a bare connection reset.
    expect({ code: readerError?.code, message: readerError?.message }).toEqual({
      code: '57P01',
      message: 'terminating connection due to administrator command',
    });
    // Nothing along the way (reopen, refresh, shutdown) was logged as an error.
    expect(serve.logs.filter((l) => l.level >= 50).map((l) => l.msg)).toEqual([]);
    // Its compiled code is gone with it.
    expect(compiledDirs()).toEqual([]);
  });
});
