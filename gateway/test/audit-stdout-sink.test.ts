// The standard-output audit sink on a real `gatehouse serve`: its stdout carries only audit records
// (the operator log goes to stderr), each line a chained record, and after SIGTERM the output ends
// with a shutdown checkpoint and verifies as a log.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import { loadCheckpointKey } from '../src/audit/checkpoint.ts';
import type { AuditRecord } from '../src/audit/types.ts';
import { verifyAuditFiles } from '../src/audit/verify.ts';
import { DEV_ALGORITHM, ensureDevKeys, mintDevToken } from '../src/auth/dev-keys.ts';
import { main } from '../src/cli/main.ts';
import { ensureClinicDatabase, REPO_ROOT } from './support/harness.ts';

const GATEHOUSE_BIN = join(REPO_ROOT, 'gateway', 'bin', 'gatehouse.js');

async function waitFor<T>(what: string, check: () => T | undefined): Promise<T> {
  for (let i = 0; i < 3000; i++) {
    const v = check();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('audit.sink stdout', () => {
  it('writes chained, checkpointed records to standard output that verify', async () => {
    const workDir = mkdtempSync(join(tmpdir(), 'gatehouse-it-stdout-'));
    const keys = await ensureDevKeys(join(workDir, 'keys'));
    const out = process.stdout.write;
    process.stdout.write = (() => true) as typeof process.stdout.write;
    try {
      expect(await main(['audit', 'keygen', '--out', join(workDir, 'audit-key')])).toBe(0);
    } finally {
      process.stdout.write = out;
    }
    const configFile = join(workDir, 'gatehouse.yaml');
    writeFileSync(
      configFile,
      stringify({
        listen: { host: '127.0.0.1', port: 0 },
        auth: { issuer: keys.issuer, audience: keys.audience, algorithms: [DEV_ALGORITHM], jwks: { file: keys.jwksPath } },
        upstream: { url: await ensureClinicDatabase() },
        policies: { engine: 'rego', directory: join(REPO_ROOT, 'policies', 'rego'), eval_timeout_ms: 5000 },
        audit: { sink: 'stdout', signing_key: 'audit-key/audit-signing.key' },
      }),
    );
    const child = spawn(process.execPath, [GATEHOUSE_BIN, 'serve', '--config', configFile, '--log-format', 'json'], {
      cwd: REPO_ROOT,
      env: { ...process.env, NO_COLOR: '1', GATEHOUSE_OPA: inject('gatehouseOpa') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const port = await waitFor('the listening port', () => {
        const m = /listening on 127\.0\.0\.1:(\d+) /.exec(stderr);
        return m ? Number(m[1]) : undefined;
      });
      const c = new pg.Client({ host: '127.0.0.1', port, user: 'agent', database: 'postgres', password: await mintDevToken({ keyDir: join(workDir, 'keys'), subject: 'stdout-agent', groups: ['agents'], ttlSeconds: 600 }) });
      await c.connect();
      await c.query('SELECT count(*) FROM clinical.visits WHERE id > $1', [3]);
      await c.end();
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
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
});
