// The standard-output audit sink on a real `gatehouse serve`: its stdout carries only audit records
// (the operator log goes to stderr), each line a chained record, and after SIGTERM the output ends
// with a shutdown checkpoint and verifies as a log. When the reader of standard output goes away
// (EPIPE), statements are refused with the sink's SQLSTATE, the operator log says so at error
// level, and the process keeps serving (no crash) until it is stopped.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import { loadCheckpointKey } from '../src/audit/checkpoint.ts';
import type { AuditRecord } from '../src/audit/types.ts';
import { verifyAuditFiles } from '../src/audit/verify.ts';
import { mintDevToken } from '../src/auth/dev-keys.ts';
import { main } from '../src/cli/main.ts';
import { writeTestConfig } from './support/gateway-config.ts';
import { ensureClinicDatabase, REPO_ROOT } from './support/harness.ts';
import { listeningPort, spawnServe, type ServeProcess } from './support/serve-process.ts';
import { waitFor } from './support/wait-for.ts';

interface Served {
  serve: ServeProcess;
  port: number;
  workDir: string;
  token: (subject: string) => Promise<string>;
}

/** `gatehouse serve` with audit.sink stdout and a signing key, its standard output read by the test. */
async function serveToStdout(): Promise<Served> {
  const workDir = mkdtempSync(join(tmpdir(), 'gatehouse-it-stdout-'));
  const out = process.stdout.write;
  process.stdout.write = (() => true) as typeof process.stdout.write;
  try {
    expect(await main(['audit', 'keygen', '--out', join(workDir, 'audit-key')])).toBe(0);
  } finally {
    process.stdout.write = out;
  }
  const configFile = await writeTestConfig(workDir, {
    upstream: { url: await ensureClinicDatabase() },
    policies: { engine: 'rego', directory: join(REPO_ROOT, 'policies', 'rego'), eval_timeout_ms: 5000 },
    audit: { sink: 'stdout', signing_key: 'audit-key/audit-signing.key' },
  });
  const serve = spawnServe(configFile, { GATEHOUSE_OPA: inject('gatehouseOpa') });
  try {
    const port = await listeningPort(serve);
    const token = (subject: string): Promise<string> => mintDevToken({ keyDir: join(workDir, 'keys'), subject, groups: ['agents'], ttlSeconds: 600 });
    return { serve, port, workDir, token };
  } catch (e) {
    serve.child.kill('SIGKILL');
    throw e;
  }
}

describe('audit.sink stdout', () => {
  it('writes chained, checkpointed records to standard output that verify', async () => {
    const { serve: { child, stdout: output, exited }, port, workDir, token } = await serveToStdout();
    try {
      const c = new pg.Client({ host: '127.0.0.1', port, user: 'agent', database: 'postgres', password: await token('stdout-agent') });
      await c.connect();
      await c.query('SELECT count(*) FROM clinical.visits WHERE id > $1', [3]);
      await c.end();
    } finally {
      child.kill('SIGTERM');
    }
    expect((await exited).code).toBe(0);
    const stdout = output();
    const lines = stdout.split('\n').filter((l) => l !== '');
    const records = lines.map((l) => JSON.parse(l) as AuditRecord & { seq: number });
    expect(records.map((r) => r.seq)).toEqual(records.map((_, i) => i + 1));
    expect(records[0]).toMatchObject({ type: 'sink', event: 'opened' });
    expect(records.some((r) => r.type === 'statement' && r.statement.startsWith('SELECT count(*) FROM clinical.visits'))).toBe(true);
    expect(records.at(-1)!.type).toBe('checkpoint');
    const file = join(workDir, 'stdout.ndjson');
    writeFileSync(file, stdout);
    const key = await loadCheckpointKey(readFileSync(join(workDir, 'audit-key', 'audit-signing.pub.pem'), 'utf8'));
    const report = await verifyAuditFiles([file], key);
    expect(report.findings).toEqual([]);
    expect(report.status).toBe('ok');
  }, 240_000);

  it('refuses statements with 58030 and logs at error level when the reader closes the pipe (EPIPE), without crashing', async () => {
    const { serve: { child, stdout, stderr, exited }, port, token } = await serveToStdout();
    try {
      const c = new pg.Client({ host: '127.0.0.1', port, user: 'agent', database: 'postgres', password: await token('stdout-agent') });
      c.on('error', () => undefined);
      await c.connect();
      await c.query('SELECT count(*) FROM clinical.visits');
      await waitFor('the first statement record', () => (stdout().includes('"type":"statement"') ? true : undefined));
      // The reader goes away: the read end of the pipe is closed.
      child.stdout!.destroy();
      const code = async (sql: string): Promise<string | null> => c.query(sql).then(() => null, (e: { code?: string }) => e.code ?? 'no code');
      expect(await code('SELECT count(*) FROM clinical.visits WHERE id > 1')).toBe('58030');
      expect(await code('SELECT count(*) FROM clinical.visits WHERE id > 2')).toBe('58030');
      const logged = await waitFor('the error-level log line', () =>
        stderr()
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as { level: number; msg: string })
          .find((l) => l.level >= 50 && l.msg.includes('EPIPE')),
      );
      expect(logged.msg).toMatch(/standard output .*EPIPE.*statements are refused/);
      // Still serving: a new session connects and is refused the same way, the process alive.
      const d = new pg.Client({ host: '127.0.0.1', port, user: 'agent', database: 'postgres', password: await token('stdout-agent') });
      d.on('error', () => undefined);
      await d.connect();
      expect(await d.query('SELECT 1').then(() => null, (e: { code?: string }) => e.code)).toBe('58030');
      await d.end();
      await c.end();
      expect(child.exitCode).toBeNull();
    } finally {
      child.kill('SIGTERM');
    }
    // Stopped by the signal, not by the broken pipe: shutdown runs (its checkpoint cannot be written).
    expect((await exited).code).not.toBeNull();
    expect(stderr()).not.toMatch(/Unhandled|uncaught|EPIPE.*\n\s+at /i);
  }, 240_000);
});
