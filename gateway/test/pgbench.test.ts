// pgbench's select-only workload through Gatehouse in all three query modes (simple, extended,
// prepared), several clients and threads: every transaction is decided, allowed and completes.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDatabase, TEST_DB, startTestGateway, type TestGateway } from './support/harness.ts';
import { runTool } from './support/run-tool.ts';

const BENCH_DB = `${TEST_DB}_bench`;
const CLIENTS = 4;
const TRANSACTIONS = 200;

interface PgbenchSummary {
  processed: number;
  expected: number;
  failed: number | null;
}

/** The counters of pgbench's final report ("number of transactions actually processed: 800/800"...). */
function summarize(stdout: string): PgbenchSummary {
  const processed = /number of transactions actually processed: (\d+)\/(\d+)/.exec(stdout);
  const failed = /number of failed transactions: (\d+)/.exec(stdout);
  return {
    processed: processed ? Number(processed[1]) : -1,
    expected: processed ? Number(processed[2]) : -1,
    failed: failed ? Number(failed[1]) : null,
  };
}

describe('pgbench -S through Gatehouse', () => {
  let t: TestGateway;
  let benchToken: string;

  beforeAll(async () => {
    const benchUrl = await ensureDatabase(BENCH_DB);
    const init = await runTool('/usr/bin/pgbench', ['-i', '-s', '1', '-q', benchUrl]);
    expect(init.code, init.stderr).toBe(0);
    t = await startTestGateway({ upstreamUrl: benchUrl });
    benchToken = await t.token('bench-runner', ['bench']);
  });
  afterAll(async () => t?.close());

  for (const mode of ['simple', 'extended', 'prepared'] as const) {
    it(`-M ${mode}: all ${CLIENTS * TRANSACTIONS} transactions succeed`, async () => {
      const r = await runTool(
        '/usr/bin/pgbench',
        ['-S', '-n', '-M', mode, '-t', String(TRANSACTIONS), '-c', String(CLIENTS), '-j', '2', '-h', '127.0.0.1', '-p', String(t.port), '-U', 'agent', 'postgres'],
        { env: { PGPASSWORD: benchToken, PGSSLMODE: 'disable' } },
      );
      const stdout = r.stdout.toString('utf8');
      expect(r.code, r.stderr + stdout).toBe(0);
      expect(summarize(stdout)).toEqual({ processed: CLIENTS * TRANSACTIONS, expected: CLIENTS * TRANSACTIONS, failed: 0 });
      expect(stdout).toContain(`query mode: ${mode}`);
    });
  }

  it('the select-only statements were decided as allowed for the bench group', () => {
    const statements = t.audit().filter((r) => r.type === 'statement' && r.statement.includes('pgbench_accounts'));
    expect(statements.length).toBeGreaterThanOrEqual(CLIENTS * TRANSACTIONS);
    for (const s of statements) {
      if (s.type !== 'statement') throw new Error('unreachable');
      expect(s.decision).toBe('allow');
      expect(s.identity?.subject).toBe('bench-runner');
    }
  });
});
