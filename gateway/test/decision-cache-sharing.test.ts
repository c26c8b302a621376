// Verdicts shared across sessions (enforce/decision-cache.ts), against a real gateway following a git
// policy repository and a real PostgreSQL: a second session with the same claims reuses the verdict
// the first one got, for the same statement with other literal values; a different identity is
// decided on its own; activating a new policy commit empties the cache. Observed through /metrics
// and the audit log (each statement still has its own decision id and text).

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.ts';
import { startGateway, type RunningGateway } from '../src/server.ts';
import { writeTestConfig } from './support/gateway-config.ts';
import { ensureClinicDatabase, readAudit } from './support/harness.ts';
import { commitFiles, createTestPolicyRepo, git } from './support/policy-repo.ts';
import { connectedTokenClient } from './support/token-client.ts';

const VISIT = (id: number): string => `SELECT id FROM clinical.visits WHERE id = ${id}`;

describe('verdicts shared across sessions', () => {
  let repo: string;
  let workDir: string;
  let gw: RunningGateway;
  const clients: pg.Client[] = [];

  const client = async (subject: string, groups: string[]): Promise<pg.Client> => {
    const c = await connectedTokenClient({ port: gw.port, keyDir: join(workDir, 'keys'), subject, groups });
    clients.push(c);
    return c;
  };

  /** Lookups of the shared cache so far: hits and misses. */
  const lookups = async (): Promise<{ hit: number; miss: number; entries: number }> => {
    const res = await fetch(`http://127.0.0.1:${gw.adminPort}/metrics`);
    const families = parsePrometheusTextFormat(await res.text());
    const sample = (name: string, result?: string): number => {
      const f = families.find((x) => x.name === name);
      const m = f?.metrics.find((s) => result === undefined || s.labels?.['result'] === result);
      return m?.value === undefined ? 0 : Number(m.value);
    };
    return {
      hit: sample('gatehouse_decision_cache_lookups_total', 'hit'),
      miss: sample('gatehouse_decision_cache_lookups_total', 'miss'),
      entries: sample('gatehouse_decision_cache_entries'),
    };
  };

  /** Runs a statement, and says what it did to the shared cache. */
  const run = async (c: pg.Client, sql: string): Promise<{ hit: number; miss: number; rows: number | null; sqlstate: string | null }> => {
    const before = await lookups();
    let rows: number | null = null;
    let sqlstate: string | null = null;
    try {
      rows = (await c.query(sql)).rowCount;
    } catch (e) {
      sqlstate = (e as { code?: string }).code ?? 'unknown';
    }
    const after = await lookups();
    return { hit: after.hit - before.hit, miss: after.miss - before.miss, rows, sqlstate };
  };

  beforeAll(async () => {
    repo = createTestPolicyRepo();
    workDir = mkdtempSync(join(tmpdir(), 'gatehouse-it-shared-'));
    const configFile = await writeTestConfig(workDir, {
      upstream: { url: await ensureClinicDatabase() },
      policies: { engine: 'rego', git: { url: repo, poll_interval_seconds: 0, work_dir: 'policy-repo' }, eval_timeout_ms: 5000 },
      admin: { host: '127.0.0.1', port: 0 },
      audit: { file: 'audit.ndjson' },
    });
    gw = await startGateway(await loadConfig(configFile));
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    await gw?.close();
  });

  it('a second session with the same claims reuses the verdict; another identity does not; activation empties the cache', async () => {
    const first = await client('agent-7', ['agents']);
    const second = await client('agent-7', ['agents']);
    const stranger = await client('reader-3', ['lifecycle-readers']);

    // Until the catalog snapshot is read, reads of user tables are refused for a moment (not cached).
    let warm = await run(first, VISIT(1));
    for (let i = 0; i < 100 && warm.sqlstate !== null; i++) {
      await new Promise((r) => setTimeout(r, 50));
      warm = await run(first, VISIT(1));
    }
    expect(warm.sqlstate).toBeNull();
    expect(warm.miss).toBe(1);

    const shared = await run(second, VISIT(2));
    expect(shared).toMatchObject({ hit: 1, miss: 0, sqlstate: null });

    const other = await run(stranger, VISIT(3));
    expect(other).toMatchObject({ hit: 0, miss: 1, sqlstate: '42501' });

    const records = readAudit(join(workDir, 'audit.ndjson')).flatMap((r) => (r.type === 'statement' && r.statement.startsWith('SELECT id FROM clinical.visits WHERE') ? [r] : []));
    const last = records.slice(-3);
    // Literals are recorded as $n: the three statements share one recorded text, each its own record.
    expect(last.map((r) => r.statement)).toEqual([1, 2, 3].map(() => 'SELECT id FROM clinical.visits WHERE id = $1'));
    expect(new Set(last.map((r) => r.decision_id)).size).toBe(3);
    expect(new Set(last.map((r) => r.session_id)).size).toBe(3);
    expect(last.map((r) => r.decision)).toEqual(['allow', 'allow', 'deny']);

    // A new commit (a harmless extra rule) is activated: nothing decided by the old one is reused.
    const previous = git(repo, 'rev-parse', 'HEAD');
    const commit = commitFiles(repo, { 'policies/rego/extra.rego': 'package gatehouse\n\nunused_rule := true\n' }, 'A harmless rule');
    expect(await gw.refreshPolicies()).toEqual({ outcome: 'activated', commit, previous });
    const after = await run(second, VISIT(4));
    expect(after).toMatchObject({ hit: 0, miss: 1, sqlstate: null });
    expect((await lookups()).entries).toBe(1);
    const again = await run(first, VISIT(5));
    expect(again).toMatchObject({ hit: 1, miss: 0, sqlstate: null });
    // The last two visit statements (4 and 5; recorded as `... WHERE id = $1`) name the new commit.
    const stamped = readAudit(join(workDir, 'audit.ndjson')).flatMap((r) => (r.type === 'statement' && r.statement.startsWith('SELECT id FROM clinical.visits WHERE') ? [r.revision] : []));
    expect(stamped.slice(-2)).toEqual([commit, commit]);
    expect(stamped.slice(0, -2)).not.toContain(commit);
  });
});
