// Built-in rotation through a real gateway: with audit.rotate_bytes, statements from a real client
// fill the file past the limit, Gatehouse moves it aside by itself (no signal), and the rotated
// files with the current one verify as one signed, complete log with `gatehouse audit verify`.

import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './support/harness.ts';
import { runGatehouse } from './support/run-tool.ts';

describe('audit rotation built in', () => {
  let t: TestGateway;
  let keyDir: string;

  beforeAll(async () => {
    keyDir = mkdtempSync(join(tmpdir(), 'gatehouse-it-rotate-keys-'));
    const keygen = await runGatehouse(['audit', 'keygen', '--out', keyDir]);
    expect(keygen.code, keygen.stderr).toBe(0);
    t = await startTestGateway({ audit: { signing_key: join(keyDir, 'audit-signing.key'), rotate_bytes: 65536 } });
  }, 120_000);

  afterAll(async () => {
    await t?.close();
  });

  const rotatedFiles = (): string[] => readdirSync(t.workDir).filter((f) => /^audit\.ndjson\.\d{8}T\d{6}Z(-\d+)?$/.test(f)).map((f) => join(t.workDir, f));

  it('moves the full file aside by itself; every file verifies as one log', { timeout: 180_000 }, async () => {
    const c = await t.client(await t.token('rotating-agent', ['agents']));
    for (let i = 0; i < 400 && rotatedFiles().length === 0; i++) await c.query('SELECT id FROM clinical.visits ORDER BY id LIMIT 1');
    expect(rotatedFiles().length).toBeGreaterThan(0);
    await c.query('SELECT 1');
    await t.close();
    const files = [t.auditFile, ...rotatedFiles(), `${t.auditFile}.chain`];
    const verify = await runGatehouse(['audit', 'verify', '--key', join(keyDir, 'audit-signing.pub.pem'), ...files]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(verify.stderr).toContain(`skipped ${t.auditFile}.chain`);
  });
});
