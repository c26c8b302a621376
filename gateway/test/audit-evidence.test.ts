// The audit log as evidence, through a real gateway: a full disk refuses statements (53100) and
// recovers by itself with the chain intact and signed; no literal a client sent reaches the log;
// the public key is served and `gatehouse audit verify` accepts the log and catches an edit.

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureClinicDatabase, startTestGateway, type TestGateway } from './support/harness.ts';
import { runGatehouse } from './support/run-tool.ts';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-audit-evidence-'));
const mnt = join(dir, 'tmpfs');

/** A 512 KiB tmpfs for the audit log, so the test can fill its disk (needs root, as CI runs). */
function mountSmallDisk(): boolean {
  mkdirSync(mnt, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', mnt], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const mounted = mountSmallDisk();

async function sqlstateOf(c: pg.Client, sql: string, values?: unknown[]): Promise<string | null> {
  try {
    await c.query(sql, values);
    return null;
  } catch (e) {
    return (e as { code?: string }).code ?? 'no code';
  }
}

let t: TestGateway;
const operatorErrors: string[] = [];
const auditFile = join(mnt, 'audit.ndjson');
const keyDir = join(dir, 'keys');

beforeAll(async () => {
  if (!mounted) return;
  const keygen = await runGatehouse(['audit', 'keygen', '--out', keyDir]);
  expect(keygen.code, keygen.stderr).toBe(0);
  t = await startTestGateway({
    admin: true,
    auditFile,
    audit: { signing_key: join(keyDir, 'audit-signing.key'), checkpoint_interval_s: 1 },
    onError: (m) => operatorErrors.push(m),
  });
}, 120_000);

afterAll(async () => {
  await t?.close();
  if (mounted) execFileSync('umount', ['-l', mnt]);
  rmSync(dir, { recursive: true, force: true });
});

describe.runIf(mounted)('the audit log as evidence, through a real gateway', () => {
  it('publishes the checkpoint public key at /audit/key', async () => {
    const res = await fetch(`http://127.0.0.1:${t.gw.adminPort}/audit/key`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { keys: Array<{ kid: string; x: string }> };
    const jwk = JSON.parse(readFileSync(join(keyDir, 'audit-signing.jwk.json'), 'utf8')) as { kid: string; x: string };
    expect(body.keys).toHaveLength(1);
    expect(body.keys[0]).toMatchObject({ kid: jwk.kid, x: jwk.x });
  });

  it('keeps literals (PHI) out of the log, from simple queries and bound parameters alike', async () => {
    const direct = new (await import('pg')).default.Client({ connectionString: await ensureClinicDatabase() });
    await direct.connect();
    const seeded = (await direct.query('SELECT id, ssn, last_name FROM clinical.patients ORDER BY id LIMIT 1')).rows[0] as { id: number; ssn: string; last_name: string };
    await direct.end();
    const c = await t.client(await t.token('dr-house', ['breakglass']));
    const simple = await c.query(`SELECT id FROM clinical.patients WHERE ssn = '${seeded.ssn}' OR last_name = '${seeded.last_name}'`);
    expect(simple.rows.map((r: { id: number }) => r.id)).toContain(seeded.id);
    const bound = await c.query('SELECT id FROM clinical.patients WHERE ssn = $1 AND last_name = $2', [seeded.ssn, seeded.last_name]);
    expect(bound.rows).toEqual([{ id: seeded.id }]);
    // A value in an error message: PostgreSQL quotes the bad input back.
    expect(await sqlstateOf(c, 'SELECT id FROM clinical.patients WHERE id = $1::int', [seeded.ssn])).toBe('22P02');
    await c.end();
    const records = await t.auditUntil((rs) => rs.some((r) => r.type === 'outcome' && r.outcome.status === 'error'));
    expect(records.some((r) => r.type === 'statement' && r.statement === 'SELECT id FROM clinical.patients WHERE ssn = $1 OR last_name = $2')).toBe(true);
    const text = readFileSync(auditFile, 'utf8');
    expect(text).not.toContain(seeded.ssn);
    expect(text).not.toContain(seeded.last_name);
  });

  it('refuses statements with 53100 while the disk is full, says so at error level, and recovers without a signal', async () => {
    const c = await t.client(await t.token('agent-7', ['agents']));
    expect(await sqlstateOf(c, 'SELECT id FROM clinical.visits ORDER BY id LIMIT 1')).toBeNull();
    const filler = join(mnt, 'filler');
    try {
      writeFileSync(filler, Buffer.alloc(1024 * 1024));
    } catch {
      // ENOSPC: the disk is now full, which is the point
    }
    // Records may still fit in the audit file's last page of the full tmpfs: statements run until
    // one record does not fit (a few at most), and from then on every statement is refused.
    let first: string | null = null;
    for (let i = 0; i < 20 && first === null; i++) first = await sqlstateOf(c, 'SELECT id FROM clinical.visits ORDER BY id LIMIT 1');
    const refusals: (string | null)[] = [first];
    for (let i = 0; i < 3; i++) refusals.push(await sqlstateOf(c, 'SELECT id FROM clinical.visits ORDER BY id LIMIT 1'));
    expect(refusals).toEqual(['53100', '53100', '53100', '53100']);
    expect(operatorErrors.some((m) => m.includes('ENOSPC'))).toBe(true);
    const ready = await fetch(`http://127.0.0.1:${t.gw.adminPort}/readyz`);
    expect(ready.status).toBe(503);

    rmSync(filler);
    let state: string | null = 'not yet';
    for (let i = 0; i < 100 && state !== null; i++) {
      await new Promise((r) => setTimeout(r, 50));
      state = await sqlstateOf(c, 'SELECT id FROM clinical.visits ORDER BY id LIMIT 1');
    }
    expect(state).toBeNull();
    await c.end();
    const recovered = t.audit().find((r) => r.type === 'sink' && r.event === 'recovered');
    expect(recovered).toMatchObject({ outage: { reason: 'ENOSPC' } });
    expect(recovered?.type === 'sink' ? recovered.outage?.refused : 0).toBeGreaterThanOrEqual(3);
  });

  it('leaves a log in which every line parses, that gatehouse audit verify accepts, and that it rejects once edited', async () => {
    await t.close();
    const lines = readFileSync(auditFile, 'utf8').trimEnd().split('\n');
    for (const l of lines) expect(() => JSON.parse(l)).not.toThrow();
    const pub = join(keyDir, 'audit-signing.pub.pem');
    const ok = await runGatehouse(['audit', 'verify', '--key', pub, auditFile]);
    expect(ok.stdout).toMatch(/^OK: /m);
    expect(ok.code, ok.stdout).toBe(0);
    // Verified as well with the key set fetched from /audit/key? The JWK file is the same key.
    expect((await runGatehouse(['audit', 'verify', '--key', join(keyDir, 'audit-signing.jwk.json'), auditFile])).code).toBe(0);

    const edited = join(dir, 'edited.ndjson');
    const i = lines.findIndex((l) => l.includes('"type":"statement"'));
    lines[i] = lines[i]!.replace('"decision":"allow"', '"decision":"deny"');
    writeFileSync(edited, `${lines.join('\n')}\n`);
    const bad = await runGatehouse(['audit', 'verify', '--key', pub, edited]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain(`${edited}:${i + 1}: TAMPERED: edited`);
    expect((await runGatehouse(['audit', 'verify', auditFile])).code).toBe(3); // no key: incomplete
    expect((await runGatehouse(['audit', 'verify'])).code).toBe(2);
  });
});
