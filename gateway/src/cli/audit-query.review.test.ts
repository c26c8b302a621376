// Adversarial review: `audit query` / `audit unseal` given a directory or an edited record exit with
// a clear message (2 for a usage error), never a stack trace.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { main } from './main.ts';

async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => ((stdout += c.toString()), true));
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => ((stderr += c.toString()), true));
  try {
    return { code: await main(argv), stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

describe('audit query / unseal arguments (review)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cli-review-'));

  it('audit query with a directory among the files is a usage error (exit 2), not a stack trace', async () => {
    const r = await run(['audit', 'query', dir]);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.code).toBe(2);
  });

  it('audit unseal with a directory among the files is a usage error (exit 2)', async () => {
    const key = join(dir, 'k.pem');
    writeFileSync(key, generateKeyPairSync('x25519').privateKey.export({ format: 'pem', type: 'pkcs8' }));
    const r = await run(['audit', 'unseal', '--key', key, '--all', dir]);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.code).toBe(2);
  });

  it('audit query tells of an edited statement record and goes on', async () => {
    const file = join(dir, 'audit.ndjson');
    writeFileSync(file, `${JSON.stringify({ v: 1, seq: 1, prev: '0'.repeat(64), type: 'statement', decision_id: 'd1' })}\n`);
    const r = await run(['audit', 'query', file]);
    expect(r.stderr).toContain(`${file}:1: skipped`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.code).toBe(1);
  });
});

describe('audit unseal (review)', () => {
  it('refuses a sealed copy moved into another statement record (the copy names its decision)', async () => {
    const { createSealer } = await import('../audit/seal.ts');
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-unseal-review-'));
    const pair = generateKeyPairSync('x25519');
    const key = join(dir, 'breakglass.key');
    writeFileSync(key, pair.privateKey.export({ format: 'pem', type: 'pkcs8' }));
    const seal = createSealer(pair.publicKey);
    // What enforce/statement-audit.ts seals for decision d1; an editor of the log moves it into d2's record.
    const { sealStatement } = await import('../enforce/statement-audit.ts');
    const sealed = sealStatement(seal, { text: "SELECT * FROM patients WHERE ssn = '123'", decision: { id: 'd1' } } as never, 'unbound');
    const record = (id: string, extra: object) => JSON.stringify({ v: 1, seq: 1, prev: '0'.repeat(64), type: 'statement', time: '2026-12-01T10:00:00.000Z', decision_id: id, session_id: 's', identity: null, statement: 'x', ...extra });
    const file = join(dir, 'audit.ndjson');
    writeFileSync(file, `${record('d2', { sealed })}\n`);
    const moved = await run(['audit', 'unseal', '--key', key, '--decision', 'd2', '--json', file]);
    expect(moved.stdout).not.toContain('123');
    expect(moved.code).toBe(1);
    writeFileSync(file, `${record('d1', { sealed })}\n`);
    const own = await run(['audit', 'unseal', '--key', key, '--decision', 'd1', '--json', file]);
    expect(own.code).toBe(0);
    expect(own.stdout).toContain('123');
  });
});

describe('audit query output to a pipe (review)', () => {
  it('stops quietly when the reader goes away (audit query ... | head -1), no unhandled EPIPE', async () => {
    const { spawn } = await import('node:child_process');
    const { fileURLToPath } = await import('node:url');
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-pipe-review-'));
    const file = join(dir, 'audit.ndjson');
    const line = (i: number): string =>
      JSON.stringify({ v: 1, seq: i + 1, prev: '0'.repeat(64), type: 'statement', time: '2026-12-01T10:00:00.000Z', decision_id: `d${i}`, session_id: 's', identity: null, client_address: '', application_name: '', statement: `SELECT ${i}`, fingerprint: 'f', input: null, decision: 'allow', reason: 'r', policies: [], masks: [], engine: 'rego', revision: null });
    writeFileSync(file, `${Array.from({ length: 20_000 }, (_, i) => line(i)).join('\n')}\n`);
    const bin = fileURLToPath(new URL('../../bin/gatehouse.js', import.meta.url));
    const child = spawn(process.execPath, [bin, 'audit', 'query', '--format', 'ndjson', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    child.stdout.destroy(); // as head does once it has its line
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stderr).not.toContain('EPIPE');
    expect(code).toBe(0);
  }, 120_000);
});
