// A one-table ledger whose `secret` column a policy from a git repository masks or not, behind a gateway
// that follows that repository (red-team rounds 20a-activation and 20c): what a transaction's snapshot or
// an open cursor carries across a policy activation, with the policy activated as in production.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, expect } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';
import type { EngineKind } from '../../src/policy/types.ts';
import { startGateway, type RunningGateway } from '../../src/server.ts';
import { writeTestConfig } from './gateway-config.ts';
import { ensureClinicDatabase } from './harness.ts';
import { commitFiles, createTestPolicyRepo } from './policy-repo.ts';
import { connectedTokenClient } from './token-client.ts';

/**
 * `<prefix>-readers` read `public.<prefix>_ledger`, with `secret` redacted when `masked`: the policy files
 * of `engine` to commit.
 */
export function ledgerPolicy(prefix: string, engine: EngineKind, masked: boolean): Record<string, string> {
  const table = `public.${prefix}_ledger`;
  if (engine === 'rego') {
    return {
      [`policies/rego/${prefix}_ledger.rego`]: `package gatehouse

allow contains {"id": "${prefix}-ledger", "reason": "${prefix} readers read the ledger", "on": "read", "table": t} if {
	member("${prefix}-readers")
	some t in input.statement.tables_read
	t == "${table}"
}
${masked ? `
mask contains {"id": "${prefix}-ledger-secret", "reason": "ledger secrets masked", "on": "read", "table": t, "column": "secret", "strategy": "redact"} if {
	member("${prefix}-readers")
	some t in input.statement.tables_read
	t == "${table}"
}
` : ''}`,
    };
  }
  return {
    [`policies/cedar/${prefix}_ledger.cedar`]: `@id("${prefix}-ledger")
@reason("${prefix} readers read the ledger")
${masked ? '@mask("secret:redact")\n' : ''}permit (principal in Gatehouse::Group::"${prefix}-readers", action == Gatehouse::Action::"read", resource == Gatehouse::Table::"${table}");
`,
  };
}

export interface LedgerGateway {
  gw: RunningGateway;
  /** The policy repository the gateway follows. */
  repo: string;
  /** The gateway's working directory (its config, keys, audit.ndjson). */
  workDir: string;
  /** The test's own session on the database, as its superuser. */
  direct: pg.Client;
  /** A new session of a `<prefix>-readers` member through the gateway. */
  reader(): Promise<pg.Client>;
  /** Commits the policy with the mask on or off (when it changes) and activates it. */
  activate(masked: boolean): Promise<void>;
  close(): Promise<void>;
}

/** The ledger made afresh with `secret` in row 1, and a gateway of `engine` following a repository whose first commit masks it when `masked`. */
export async function startLedgerGateway(prefix: string, engine: EngineKind, secret: string, masked: boolean): Promise<LedgerGateway> {
  const table = `public.${prefix}_ledger`;
  const url = await ensureClinicDatabase();
  const direct = new pg.Client({ connectionString: url });
  await direct.connect();
  await direct.query(`DROP TABLE IF EXISTS ${table}; CREATE TABLE ${table} (id integer, secret text);
INSERT INTO ${table} VALUES (1, '${secret}')`);
  const repo = createTestPolicyRepo();
  commitFiles(repo, ledgerPolicy(prefix, engine, masked), masked ? 'The ledger, secret masked' : 'The ledger, raw');
  const workDir = mkdtempSync(join(tmpdir(), `gatehouse-it-${prefix}-`));
  const configFile = await writeTestConfig(workDir, {
    upstream: { url },
    policies: { engine, git: { url: repo, poll_interval_seconds: 0, work_dir: 'policy-repo' }, eval_timeout_ms: 5000 },
    audit: { file: 'audit.ndjson' },
  });
  const gw = await startGateway(await loadConfig(configFile));
  let active = masked;
  return {
    gw,
    repo,
    workDir,
    direct,
    reader: () => connectedTokenClient({ port: gw.port, keyDir: join(workDir, 'keys'), subject: `${prefix}-reader-${engine}`, groups: [`${prefix}-readers`] }),
    activate: async (mask: boolean) => {
      if (mask === active) return;
      active = mask;
      commitFiles(repo, ledgerPolicy(prefix, engine, mask), mask ? 'Mask the ledger secret' : 'Unmask the ledger secret');
      expect(await gw.refreshPolicies()).toMatchObject({ outcome: 'activated' });
    },
    close: async () => {
      await gw.close();
      await direct.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
      await direct.end();
      for (const d of [repo, workDir]) rmSync(d, { recursive: true, force: true });
    },
  };
}

/**
 * The ledger gateway of a `describe` block: started in its `beforeAll`, closed in its `afterAll`. Its
 * members are read when a test runs (after the start).
 */
export function useLedgerGateway(prefix: string, engine: EngineKind, secret: string, masked: boolean): LedgerGateway {
  let ledger: LedgerGateway | undefined;
  beforeAll(async () => {
    ledger = await startLedgerGateway(prefix, engine, secret, masked);
  });
  afterAll(async () => {
    await ledger?.close();
  });
  const started = (): LedgerGateway => {
    if (ledger === undefined) throw new Error(`the ${prefix} ledger gateway is not started (use it inside a test)`);
    return ledger;
  };
  return {
    get gw() { return started().gw; },
    get repo() { return started().repo; },
    get workDir() { return started().workDir; },
    get direct() { return started().direct; },
    reader: () => started().reader(),
    activate: (mask: boolean) => started().activate(mask),
    close: () => started().close(),
  };
}
