// Policy evaluation with a hard deadline (policy/eval-pool.ts), with the real OPA-built policies:
// a Rego rule that loops is cut off at its CPU budget and denied (57014) while another session's
// SELECT 1 keeps completing; under CPU load an allowed statement is not denied (the budget counts
// the evaluation's own CPU time, not time spent waiting for a CPU); a commit whose policy loops on
// its test inputs is refused at activation and the previous commit keeps serving.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.ts';
import { startGateway, type RunningGateway } from '../src/server.ts';
import { writeTestConfig } from './support/gateway-config.ts';
import { ensureClinicDatabase, readAudit, recorded, startTestGateway, type TestGateway } from './support/harness.ts';
import { examplePoliciesLoopingOn, loopingRego } from './support/looping-policy.ts';
import { commitFiles, createTestPolicyRepo, git } from './support/policy-repo.ts';
import { connectedTokenClient } from './support/token-client.ts';

async function errorOf(c: pg.Client, sql: string): Promise<{ code: string | undefined; message: string; detail: string | undefined } | null> {
  try {
    await c.query(sql);
    return null;
  } catch (e) {
    const err = e as { code?: string; message: string; detail?: string };
    return { code: err.code, message: err.message, detail: err.detail };
  }
}

describe('a looping policy is cut off at its budget', () => {
  let t: TestGateway;
  let token: string;
  // Loops only for statements that mention slow_policy, so the warm-up and the tests pass.
  const policiesDir = examplePoliciesLoopingOn('slow_policy');

  beforeAll(async () => {
    t = await startTestGateway({ policiesDir, evalTimeoutMs: 200 });
    token = await t.token('agent-deadline', ['agents']);
  });
  afterAll(async () => {
    await t?.close();
  });

  it("denies the looping statement with 57014 while another session's SELECT 1 keeps completing", async () => {
    const slow = await t.client(token);
    const other = await t.client(token);
    let done = false;
    let completed = 0;
    const pings = (async () => {
      while (!done) {
        await other.query('SELECT 1');
        completed++;
      }
    })();
    // Wait until the other session is being served, then start the looping one.
    while (completed === 0) await new Promise((r) => setTimeout(r, 5));
    const before = completed;
    const refused = await errorOf(slow, "SELECT 'slow_policy' AS marker");
    const during = completed - before;
    done = true;
    await pings;
    expect(refused?.code).toBe('57014');
    expect(refused?.message).toContain('200 ms of CPU time');
    expect(refused?.detail).toMatch(/revision dir:[0-9a-f]{64}/);
    expect(during).toBeGreaterThan(0);
    // The session that sent it goes on, and so does the pool (its worker was replaced).
    // (Another shape: this identity's statements fingerprinted like the looping one cool down.)
    expect((await slow.query('SELECT id FROM clinical.visits ORDER BY id LIMIT 1')).rowCount).toBe(1);
    // The same shape again from the same identity is refused in its cool-down, without evaluation
    // (policy/eval-admission.ts; gateway/test/eval-cooldown.test.ts).
    expect(await errorOf(slow, "SELECT 'slow_policy again' AS marker")).toMatchObject({ code: '57014' });
    // Recorded with the literal as $1: both looping statements have this text, and no other does.
    const denied = readAudit(t.auditFile).filter((r) => r.type === 'statement' && r.statement === recorded("SELECT 'slow_policy' AS marker"));
    expect(denied.map((r) => (r.type === 'statement' ? [r.decision, r.policies] : null))).toEqual([
      ['deny', ['gatehouse.evaluation_budget']],
      ['deny', ['gatehouse.evaluation_cooldown']],
    ]);
  });
});

describe('the budget counts the evaluation’s own CPU time', () => {
  let t: TestGateway;
  let burners: ChildProcess[] = [];

  beforeAll(async () => {
    // 20 ms of CPU is 100 times what the example policies need; under this load, waiting for a
    // CPU often takes longer than that.
    t = await startTestGateway({ evalTimeoutMs: 20 });
  });
  afterAll(async () => {
    for (const b of burners) b.kill('SIGKILL');
    await t?.close();
  });

  it('allows every allowed statement while the machine is loaded', async () => {
    const c = await t.client(await t.token('agent-busy', ['agents']));
    burners = Array.from({ length: 6 }, () => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
    const refused: string[] = [];
    for (let i = 0; i < 150; i++) {
      // Distinct texts: every one is evaluated, none comes from the session's decision cache.
      const e = await errorOf(c, `SELECT id FROM clinical.visits WHERE id = ${i} LIMIT 1`);
      if (e !== null) refused.push(`${e.code}: ${e.message}`);
    }
    for (const b of burners) b.kill('SIGKILL');
    expect(refused).toEqual([]);
    const decided = readAudit(t.auditFile).filter((r) => r.type === 'statement' && r.statement.startsWith('SELECT id FROM clinical.visits WHERE id ='));
    expect(decided).toHaveLength(150);
    expect(new Set(decided.map((r) => (r.type === 'statement' ? r.decision : null)))).toEqual(new Set(['allow']));
  });
});

describe('gated activation refuses a commit whose policy loops on its test inputs', () => {
  let gw: RunningGateway;
  let repo: string;
  let client: pg.Client;

  beforeAll(async () => {
    repo = createTestPolicyRepo();
    const workDir = mkdtempSync(join(tmpdir(), 'gatehouse-it-slow-commit-'));
    const configFile = await writeTestConfig(workDir, {
      upstream: { url: await ensureClinicDatabase() },
      policies: { engine: 'rego', git: { url: repo, poll_interval_seconds: 0, work_dir: 'policy-repo' }, eval_timeout_ms: 200 },
      audit: { file: 'audit.ndjson' },
    });
    gw = await startGateway(await loadConfig(configFile));
    client = await connectedTokenClient({ port: gw.port, keyDir: join(workDir, 'keys'), subject: 'agent-1', groups: ['agents'] });
  });
  afterAll(async () => {
    await client?.end().catch(() => undefined);
    await gw?.close();
  });

  it('names the reason; the old commit keeps serving', async () => {
    const good = git(repo, 'rev-parse', 'HEAD');
    expect(gw.engine().revision).toBe(good);
    const slow = commitFiles(repo, { 'policies/rego/slow.rego': loopingRego() }, 'A rule that loops on every input');
    const result = await gw.refreshPolicies();
    expect(result).toMatchObject({ outcome: 'refused', commit: slow });
    const reason = result?.outcome === 'refused' ? result.reason : '';
    expect(reason).toContain('evaluation over budget');
    expect(reason).toContain('200 ms of CPU time');
    expect(gw.policyStatus()?.last_refused?.commit).toBe(slow);
    expect(gw.engine().revision).toBe(good);
    expect((await client.query('SELECT id FROM clinical.visits ORDER BY id LIMIT 1')).rowCount).toBe(1);
  });

  it('also times a new commit on recent statements of the audit log (policies.activation_sample), which its tests do not cover', async () => {
    const good = git(repo, 'rev-parse', 'HEAD~1'); // the looping commit above was refused
    expect(gw.engine().revision).toBe(good);
    // Served and recorded under the good commit: recorded as `SELECT $1 AS rare_shape_marker`.
    expect((await client.query('SELECT 1 AS rare_shape_marker')).rows).toEqual([{ rare_shape_marker: 1 }]);
    const slow = commitFiles(repo, { 'policies/rego/slow.rego': loopingRego('rare_shape_marker') }, 'A rule that loops on one shape only');
    const result = await gw.refreshPolicies();
    expect(result).toMatchObject({ outcome: 'refused', commit: slow });
    const reason = result?.outcome === 'refused' ? result.reason : '';
    expect(reason).toContain('evaluation over budget: on the recorded statement of decision');
    expect(reason).toContain('SELECT $1 AS rare_shape_marker');
    expect(gw.engine().revision).toBe(good);
  });
});
