import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
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
  serve: ['--config', '--host', '--port', '--check', '--offline', '--log-format'],
  token: ['--sub', '--groups', '--roles', '--ttl', '--config', '--key-dir', '--email', '--issuer', '--audience'],
  demo: [],
  bench: ['--hostile', '--soak', '--sessions', '--only'],
  replay: ['--dir', '--speed', '--max-pause', '--asciicast'],
  audit: ['verify', 'query', 'disclosures', '--subject', '--include-possible', 'explain', 'unseal', 'keygen', '--key', '--json', '--out', '--force', '--breakglass', '--identity', '--table', '--column', '--decision', '--commit', '--since', '--format'],
};

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('gatehouse CLI', () => {
  it('registers serve, token, demo, policy, approvals, audit, replay, db and bench', () => {
    expect(COMMANDS.map((c) => c.name).sort()).toEqual(['approvals', 'audit', 'bench', 'db', 'demo', 'policy', 'replay', 'serve', 'token']);
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

  it('a subcommand with --help prints that subcommand\'s help only (in process)', async () => {
    const out = await captured(() => main(['audit', 'query', '--help']));
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/^Usage: gatehouse audit query /);
    expect(out.stdout).not.toContain('gatehouse audit verify');
    const policy = await captured(() => main(['policy', 'diff', '-h']));
    expect(policy.stdout).toMatch(/^Usage: gatehouse policy diff /);
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

  it('prints the usage for no verb; one line plus where help is for an unknown verb or help topic (exit 2)', { timeout: 120_000 }, async () => {
    const [unknown, none, unknownHelp] = await Promise.all([gatehouse(['frobnicate']), gatehouse([]), gatehouse(['help', 'frobnicate'])]);
    for (const r of [unknown, none, unknownHelp]) {
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
    }
    expect(none.stderr).toContain('Usage: gatehouse <command>');
    expect(unknown.stderr).toBe("gatehouse: unknown command 'frobnicate'\nTry 'gatehouse --help' for more information.\n");
    expect(unknownHelp.stderr).toBe("gatehouse: no help for unknown command 'frobnicate'\nTry 'gatehouse --help' for more information.\n");
  });

  it('exits 2 for a bad option, saying what is wrong in one line and where the help is', { timeout: 120_000 }, async () => {
    const [unknown, missing, badTtl, badEngine, policySub, badHostile] = await Promise.all([
      gatehouse(['token', '--sub', 'a', '--nope']),
      gatehouse(['token', '--groups', 'a']),
      gatehouse(['token', '--sub', 'a', '--ttl', 'soon']),
      gatehouse(['demo', '--engine', 'prolog']),
      gatehouse(['policy', 'test', '--nope']),
      gatehouse(['bench', '--only', 'isolation', '--hostile', 'big-literal,flood']),
    ]);
    for (const r of [unknown, missing, badTtl, badEngine, policySub, badHostile]) {
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.split('\n')).toHaveLength(3); // two lines and the final newline
    }
    expect(missing.stderr).toBe("gatehouse token: --sub is required\nTry 'gatehouse token --help' for more information.\n");
    expect(badEngine.stderr).toContain("Try 'gatehouse demo --help'");
    expect(policySub.stderr).toContain("Try 'gatehouse policy test --help'");
    expect(badHostile.stderr).toBe("gatehouse bench: --hostile takes many-statements, big-literal, slow-policy; not flood\nTry 'gatehouse bench --help' for more information.\n");
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

  it('serve --check: 1 listing problems for an invalid file', { timeout: 120_000 }, async () => {
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'listen: { prot: 1 }\n');
    const invalid = await gatehouse(['serve', '--config', bad, '--check']);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain(`configuration NOT OK: ${bad}`);
    expect(invalid.stderr).not.toContain('"level"'); // plain lines, not a JSON log
    expect(invalid.stderr).toContain("listen.prot: unknown key (did you mean 'port'?)");
    expect(invalid.stderr).toContain('auth: is required');
  });

  it('serve --check fails on a missing JWKS file and an unreachable upstream, passes once both are there', { timeout: 120_000 }, async () => {
    const site = join(dir, 'check-site');
    const write = (upstream: string): Promise<void> =>
      mkdir(site, { recursive: true }).then(() =>
        writeFile(
          join(site, 'gatehouse.yaml'),
          [
            'auth: { issuer: https://gatehouse.dev.invalid, audience: gatehouse, jwks: { file: keys/jwks.json } }',
            `upstream: { url: ${JSON.stringify(upstream)}, connect_timeout_ms: 3000 }`,
            `policies: { engine: rego, directory: ${JSON.stringify(join(REPO, 'policies/rego'))} }`,
            'audit: { file: audit/audit.ndjson }',
            '',
          ].join('\n'),
        ),
      );
    await write('postgresql://nobody@127.0.0.1:1/app');
    const config = join(site, 'gatehouse.yaml');
    const missing = await gatehouse(['serve', '--config', config, '--check']);
    expect(missing.code, missing.stderr).toBe(1);
    expect(missing.stdout).toMatch(/FAILED\s+auth\.jwks\.file\s+.*keys\/jwks\.json does not exist/);
    expect(missing.stdout).toMatch(/FAILED\s+upstream\.url/);
    expect(missing.stdout).toContain('configuration NOT OK');

    // The key pair is created where the config's auth.jwks.file points, from another directory.
    expect((await gatehouse(['token', '--sub', 'x', '--config', config], dir)).code).toBe(0);
    const offline = await gatehouse(['serve', '--config', config, '--check', '--offline']);
    expect(offline.code, offline.stdout).toBe(0);
    expect(offline.stdout).toMatch(/ok\s+auth\.jwks\.file/);
    expect(offline.stdout).toMatch(/skipped\s+upstream\.url\s+not contacted \(--offline\)/);

    await write(inject('pgUrl'));
    const online = await gatehouse(['serve', '--config', config, '--check']);
    expect(online.code, online.stdout).toBe(0);
    expect(online.stdout).toMatch(/ok\s+upstream\.url\s+connected as \S+ to database \S+ \(PostgreSQL \d+/);
    expect(online.stdout).toContain('configuration OK');

    expect((await gatehouse(['serve', '--config', config, '--offline'])).code).toBe(2);
  });

  it('token --config (or ./gatehouse.yaml) keeps the key beside the config\'s auth.jwks.file and prints only the token', { timeout: 120_000 }, async () => {
    const site = join(dir, 'token-site');
    await mkdir(join(site, 'elsewhere'), { recursive: true });
    await writeFile(
      join(site, 'gatehouse.yaml'),
      'auth: { issuer: https://idp.test.invalid, audience: reports, jwks: { file: dev-keys/jwks.json } }\nupstream: { url: "postgresql://u:${NOT_SET_ANYWHERE}@h/db" }\n',
    );
    const fromElsewhere = await gatehouse(['token', '--sub', 'ana', '--config', '../gatehouse.yaml'], join(site, 'elsewhere'));
    const inPlace = await gatehouse(['token', '--sub', 'bo'], site);
    for (const r of [fromElsewhere, inPlace]) {
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
      expect(r.stderr).toContain(join(site, 'dev-keys', 'jwks.json'));
    }
    const verifier = createTokenVerifier(
      {
        issuer: 'https://idp.test.invalid',
        audience: 'reports',
        algorithms: ['ES256'],
        jwks: { kind: 'file', path: join(site, 'dev-keys', 'jwks.json') },
        groupsClaim: 'groups',
        rolesClaim: 'roles',
        plaintextPassword: 'loopback',
        clockToleranceSeconds: 0,
      },
      site,
    );
    await expect(verifier.verify(fromElsewhere.stdout.trim())).resolves.toMatchObject({ subject: 'ana', issuer: 'https://idp.test.invalid' });
    await expect(verifier.verify(inPlace.stdout.trim())).resolves.toMatchObject({ subject: 'bo' });
  });

  it('token refuses a config whose keys are not a file it can create', { timeout: 120_000 }, async () => {
    const file = join(dir, 'url.yaml');
    await writeFile(file, 'auth: { issuer: https://idp.example.com/, audience: a, jwks: { url: "https://idp.example.com/jwks" } }\n');
    const r = await gatehouse(['token', '--sub', 'a', '--config', file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('auth.jwks is not a file');
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
