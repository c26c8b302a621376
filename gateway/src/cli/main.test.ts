import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTokenVerifier } from '../auth/token-verifier.ts';
import { DEV_AUDIENCE, DEV_ISSUER } from '../auth/dev-keys.ts';
import { COMMANDS, main } from './main.ts';
import { runGatehouse } from '../../test/support/run-tool.ts';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const BIN = join(REPO, 'gateway/bin/gatehouse.js');

/** Runs the real executable with node, as a user would. */
function gatehouse(args: string[], cwd = REPO): ReturnType<typeof runGatehouse> {
  return runGatehouse(args, { cwd });
}

/** Runs main() in this process, capturing what it writes to stdout. */
async function captured(fn: () => Promise<number>): Promise<{ code: number; stdout: string }> {
  let stdout = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += chunk.toString();
    return true;
  });
  try {
    return { code: await fn(), stdout };
  } finally {
    spy.mockRestore();
  }
}

/** Options each verb's help must mention (beyond -h/--help, which all must). */
const OPTIONS: Record<string, string[]> = {
  serve: ['--config', '--host', '--port', '--check', '--log-format'],
  token: ['--sub', '--groups', '--roles', '--ttl', '--key-dir', '--email', '--issuer', '--audience'],
  demo: [],
  bench: [],
};

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('gatehouse CLI', () => {
  it('registers serve, token, demo, policy, db and bench', () => {
    expect(COMMANDS.map((c) => c.name).sort()).toEqual(['bench', 'db', 'demo', 'policy', 'serve', 'token']);
  });

  it('--help lists every verb and exits 0; --version prints the version', { timeout: 120_000 }, async () => {
    const [help, version] = await Promise.all([gatehouse(['--help']), gatehouse(['--version'])]);
    expect(help.code).toBe(0);
    for (const c of COMMANDS) expect(help.stdout).toContain(c.name);
    expect(version.code).toBe(0);
    expect(version.stdout).toMatch(/^gatehouse \d+\.\d+\.\d+/);
  });

  it('prints every verb\'s help (gatehouse <verb> --help), exit 0, mentioning its options', { timeout: 120_000 }, async () => {
    const runs = await Promise.all(COMMANDS.map((c) => gatehouse([c.name, '--help']).then((r) => ({ c, r }))));
    for (const { c, r } of runs) {
      expect(r.code, `${c.name}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toBe(c.help);
      expect(r.stdout).toContain(`gatehouse ${c.name}`);
      expect(r.stdout).toContain('--help');
      for (const option of OPTIONS[c.name] ?? []) expect(r.stdout, `${c.name} help`).toContain(option);
    }
  });

  it('gatehouse help <verb> and -h print the same help (in process)', async () => {
    for (const c of COMMANDS) {
      for (const argv of [['help', c.name], [c.name, '-h']]) {
        const out = await captured(() => main(argv));
        expect(out.code).toBe(0);
        expect(out.stdout).toBe(c.help);
      }
    }
  });

  it('exits 2 with usage on stderr for an unknown verb, no verb, or help for an unknown verb', { timeout: 120_000 }, async () => {
    const runs = await Promise.all([gatehouse(['frobnicate']), gatehouse([]), gatehouse(['help', 'frobnicate'])]);
    for (const r of runs) {
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain('Usage: gatehouse <command>');
    }
    expect(runs[0]?.stderr).toContain("unknown command 'frobnicate'");
  });

  it('exits 2 for a bad option', { timeout: 120_000 }, async () => {
    const [unknown, missing, badTtl] = await Promise.all([
      gatehouse(['token', '--sub', 'a', '--nope']),
      gatehouse(['token', '--groups', 'a']),
      gatehouse(['token', '--sub', 'a', '--ttl', 'soon']),
    ]);
    for (const r of [unknown, missing, badTtl]) {
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
    }
    expect(missing.stderr).toContain('--sub is required');
  });

  it('token prints a dev token that verifies, with a warning on stderr', { timeout: 120_000 }, async () => {
    const keyDir = join(dir, 'keys');
    const r = await gatehouse(['token', '--sub', 'alice', '--groups', 'analysts,oncall', '--roles', 'reader', '--ttl', '10m', '--key-dir', keyDir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('development token — not for production');
    const token = r.stdout.trim();
    const verifier = createTokenVerifier(
      {
        issuer: DEV_ISSUER,
        audience: DEV_AUDIENCE,
        algorithms: ['ES256'],
        jwks: { kind: 'file', path: join(keyDir, 'jwks.json') },
        groupsClaim: 'groups',
        rolesClaim: 'roles',
        plaintextPassword: 'loopback',
        clockToleranceSeconds: 0,
      },
      dir,
    );
    await expect(verifier.verify(token)).resolves.toEqual({
      subject: 'alice',
      issuer: DEV_ISSUER,
      groups: ['analysts', 'oncall'],
      roles: ['reader'],
      name: null,
    });
  });

  it('serve --check validates a config file: 0 when valid, 1 listing problems when not', { timeout: 120_000 }, async () => {
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'listen: { prot: 1 }\n');
    const [ok, invalid] = await Promise.all([
      gatehouse(['serve', '--config', join(REPO, 'examples/gatehouse.yaml'), '--check']),
      gatehouse(['serve', '--config', bad, '--check', '--log-format', 'text']),
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('configuration OK');
    expect(ok.stdout).not.toContain(':gatehouse@');
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain("listen.prot: unknown key (did you mean 'port'?)");
    expect(invalid.stderr).toContain('auth: is required');
  });

  it('serve runs the gateway and shuts down cleanly on SIGTERM', { timeout: 120_000 }, async () => {
    const config = join(dir, 'serve.yaml');
    await writeFile(
      config,
      [
        'listen: { port: 0 }',
        'auth: { issuer: https://gatehouse.dev.invalid, audience: gatehouse, jwks: { file: keys/jwks.json } }',
        'upstream: { url: "postgresql://gatehouse@127.0.0.1:1/app" }',
        `policies: { engine: rego, directory: ${JSON.stringify(join(REPO, 'policies/rego'))} }`,
        'audit: { file: audit.ndjson }',
        '',
      ].join('\n'),
    );
    const child = spawn(process.execPath, [BIN, 'serve', '--config', config, '--log-format', 'json'], { cwd: dir });
    let stderr = '';
    const listening = new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes('listening on')) resolve();
      });
      child.on('close', () => reject(new Error(`serve exited early: ${stderr}`)));
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    await listening;
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const lines = stderr.trim().split('\n').map((l) => JSON.parse(l) as { msg: string });
    expect(lines.some((l) => l.msg.includes('SIGTERM received'))).toBe(true);
    expect(lines.at(-1)?.msg).toBe('stopped');
  });
});
