import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatehouseError } from '../errors.ts';
import { configFromObject, loadConfig } from './load.ts';
import { DEFAULTS } from './normalize.ts';
import { configSchema } from './validate.ts';

const REPO = resolve(fileURLToPath(new URL('../../..', import.meta.url)));

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const MINIMAL = `
auth:
  issuer: https://idp.example.com/
  audience: gatehouse
  jwks:
    file: keys/jwks.json
upstream:
  url: postgresql://gh:secret@db.internal:5432/app
policies:
  engine: rego
  directory: policies
`;

async function write(name: string, text: string): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, text);
  return file;
}

async function problemsOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GatehouseError);
  expect((error as GatehouseError).code).toBe('CONFIG_INVALID');
  expect((error as GatehouseError).sqlstate).toBe('F0000');
  return (error as GatehouseError).message;
}

describe('loadConfig', () => {
  it('loads a minimal file and applies every default', async () => {
    const config = await loadConfig(await write('minimal.yaml', MINIMAL));
    expect(config).toEqual({
      listen: { host: '127.0.0.1', port: 6432 },
      tls: { mode: 'disable', certFile: null, keyFile: null, ciphers: DEFAULTS.tls.ciphers },
      auth: {
        issuer: 'https://idp.example.com/',
        audience: 'gatehouse',
        algorithms: ['RS256', 'ES256'],
        jwks: { kind: 'file', path: join(dir, 'keys/jwks.json') },
        groupsClaim: 'groups',
        rolesClaim: 'roles',
        plaintextPassword: 'loopback',
        clockToleranceSeconds: 30,
      },
      upstream: { url: 'postgresql://gh:secret@db.internal:5432/app', passDatabase: false, connectTimeoutMs: 5000, pool: null },
      policies: { engine: 'rego', directory: join(dir, 'policies'), git: null, evalTimeoutMs: 100, evalCooldownMs: 10_000, activationSample: 200 },
      admin: null,
      approvals: { store: 'memory', pageUrl: null, maxPendingPerSession: 10, maxPendingPerIdentity: 50, heartbeatTimeoutSeconds: 15, notifications: [] },
      audit: { sink: 'stdout', file: '-', postgresUrl: null, postgresTable: 'gatehouse.audit_log', instance: null, fsync: true, preallocateBytes: null, ringBytes: null, signingKeyFile: null, checkpointIntervalSeconds: 60, redactLiterals: true, breakGlassKeyFile: null, rotateBytes: null, rotateIntervalSeconds: null, recordingsDir: null, recordingMaxRows: 100, phiTables: {}, subjectKeyFile: null, subjectsMax: 1000 },
      limits: { maxMessageBytes: 16 * 1024 * 1024, maxStatementsPerQuery: 1000, maxStatementBytes: 1024 * 1024 },
      baseDir: dir,
    });
  });

  it('loads a full file, resolving relative paths against its directory', async () => {
    const file = await write(
      'full.yaml',
      `
listen: { host: 0.0.0.0, port: 7000 }
tls: { mode: require, cert: tls/c.pem, key: /etc/gh/k.pem, ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' }
auth:
  issuer: https://idp.example.com/
  audience: gh
  algorithms: [ES256]
  jwks: { url: "https://idp.example.com/jwks", cache_max_age_seconds: 60, cooldown_seconds: 5 }
  groups_claim: grp
  roles_claim: realm_access.roles
  plaintext_password: never
  clock_tolerance_seconds: 0
upstream: { url: "postgres://u@h/db", pass_database: true, connect_timeout_ms: 100 }
policies: { engine: cedar, directory: /srv/policies, eval_timeout_ms: 5 }
audit: { file: logs/audit.ndjson, fsync: true }
limits: { max_message_bytes: 65536 }
`,
    );
    const config = await loadConfig(file);
    expect(config.listen).toEqual({ host: '0.0.0.0', port: 7000 });
    expect(config.tls).toEqual({ mode: 'require', certFile: join(dir, 'tls/c.pem'), keyFile: '/etc/gh/k.pem', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' });
    expect(config.auth.jwks).toEqual({ kind: 'url', url: 'https://idp.example.com/jwks', cacheMaxAgeSeconds: 60, cooldownSeconds: 5 });
    expect(config.auth.plaintextPassword).toBe('never');
    expect(config.upstream.passDatabase).toBe(true);
    expect(config.policies).toEqual({ engine: 'cedar', directory: '/srv/policies', git: null, evalTimeoutMs: 5, evalCooldownMs: 10_000, activationSample: 200 });
    expect(config.audit).toEqual({ sink: 'file', file: join(dir, 'logs/audit.ndjson'), postgresUrl: null, postgresTable: 'gatehouse.audit_log', instance: null, fsync: true, preallocateBytes: null, ringBytes: null, signingKeyFile: null, checkpointIntervalSeconds: 60, redactLiterals: true, breakGlassKeyFile: null, rotateBytes: null, rotateIntervalSeconds: null, recordingsDir: null, recordingMaxRows: 100, phiTables: {}, subjectKeyFile: null, subjectsMax: 1000 });
    expect(config.limits.maxMessageBytes).toBe(65536);
  });

  it('loads policies from git with defaults, and the admin listener', async () => {
    const base = `
auth: { issuer: https://idp.example.com/, audience: gh, jwks: { file: k.json } }
upstream: { url: "postgres://u@h/db" }
`;
    const minimal = await loadConfig(await write('git-min.yaml', `${base}policies: { engine: cedar, git: { url: ../policy-repo } }\nadmin: { port: 9090 }\n`));
    expect(minimal.policies).toEqual({
      engine: 'cedar',
      directory: null,
      evalTimeoutMs: 100,
      evalCooldownMs: 10_000,
      activationSample: 200,
      git: {
        url: join(dir, '../policy-repo'),
        branch: 'main',
        pin: null,
        path: 'policies/cedar',
        tests: 'policy-tests',
        pollIntervalSeconds: 30,
        workDir: join(dir, '.gatehouse/policy-repo'),
      },
    });
    expect(minimal.admin).toEqual({ host: '127.0.0.1', port: 9090, refreshToken: null, reads: { token: null, group: null, open: false } });

    const full = await loadConfig(
      await write(
        'git-full.yaml',
        `${base}policies:
  engine: rego
  git: { url: "git@github.com:acme/policies.git", branch: prod, pin: v1.2.0, path: rego, tests: null, poll_interval_seconds: 0, work_dir: /var/lib/gh }
admin: { host: 0.0.0.0, port: 0, refresh_token: 0123456789abcdef0123, read_token: fedcba9876543210fedc, read_group: ops }
`,
      ),
    );
    expect(full.policies.git).toEqual({
      url: 'git@github.com:acme/policies.git',
      branch: 'prod',
      pin: 'v1.2.0',
      path: 'rego',
      tests: null,
      pollIntervalSeconds: 0,
      workDir: '/var/lib/gh',
    });
    expect(full.admin).toEqual({
      host: '0.0.0.0',
      port: 0,
      refreshToken: '0123456789abcdef0123',
      reads: { token: 'fedcba9876543210fedc', group: 'ops', open: false },
    });
    // Beyond loopback, the read endpoints need credentials unless the file says they are open.
    const open = await problemsOf(loadConfig(await write('admin-open.yaml', `${base}policies: { engine: rego, directory: p }\nadmin: { host: 0.0.0.0, port: 9090 }\n`)));
    expect(open).toContain('admin: listens beyond loopback');
    const explicit = await loadConfig(await write('admin-explicit.yaml', `${base}policies: { engine: rego, directory: p }\nadmin: { host: 0.0.0.0, port: 9090, open_reads: true }\n`));
    expect(explicit.admin?.reads).toEqual({ token: null, group: null, open: true });

    const both = await problemsOf(loadConfig(await write('git-both.yaml', `${base}policies: { engine: rego, directory: p, git: { url: x, path: ../out } }\n`)));
    expect(both).toContain("policies: exactly one of 'directory' or 'git' is required");
    const escape = await problemsOf(loadConfig(await write('git-escape.yaml', `${base}policies: { engine: rego, git: { url: x, path: ../out } }\n`)));
    expect(escape).toContain('policies.git.path: must be a path inside the repository');
  });

  it('expands ${VAR} and ${VAR:-default}, and keeps $${ literal', async () => {
    const file = await write(
      'env.yaml',
      MINIMAL.replace('gh:secret@', 'gh:${PGPASS}@')
        .replace('audience: gatehouse', 'audience: ${AUD:-fallback}')
        .replace('engine: rego', 'engine: ${ENGINE}')
        .replace('directory: policies', () => 'directory: "pol$${x}"'),
    );
    const config = await loadConfig(file, undefined, { env: { PGPASS: 's3cr3t', ENGINE: 'cedar' } });
    expect(config.upstream.url).toBe('postgresql://gh:s3cr3t@db.internal:5432/app');
    expect(config.auth.audience).toBe('fallback');
    expect(config.policies.engine).toBe('cedar');
    expect(config.policies.directory).toBe(join(dir, 'pol${x}'));
  });

  it('reports unset environment variables with their path', async () => {
    const file = await write('env-missing.yaml', MINIMAL.replace('gh:secret@', 'gh:${NOPE_NOT_SET}@'));
    const message = await problemsOf(loadConfig(file, undefined, { env: {} }));
    expect(message).toContain('upstream.url: environment variable NOPE_NOT_SET is not set');
  });

  it('applies overrides with the file keys', async () => {
    const config = await loadConfig(await write('ov.yaml', MINIMAL), { listen: { port: 0 }, audit: { file: 'a.ndjson' } });
    expect(config.listen).toEqual({ host: '127.0.0.1', port: 0 });
    expect(config.audit.file).toBe(join(dir, 'a.ndjson'));
  });

  it('lists every problem of an invalid file, one per path', async () => {
    const file = await write(
      'bad.yaml',
      `
listen: { prot: 5432, port: 70000 }
tls: { mode: require }
auth:
  issuer: ""
  audience: gatehouse
  algorithms: [HS256, none]
  jwks: { file: a.json, url: "https://x/jwks", cooldown_seconds: 1 }
  groupsClaim: g
upstream: { url: "mysql://h/db" }
policies: { engine: opa }
extra: true
`,
    );
    const message = await problemsOf(loadConfig(file));
    for (const expected of [
      "listen.prot: unknown key (did you mean 'port'?)",
      'listen.port: must be <= 65535',
      'tls.cert: is required',
      'tls.key: is required',
      'auth.issuer: must NOT have fewer than 1 characters',
      'auth.algorithms[0]: must be one of',
      'auth.algorithms[1]: must be one of',
      "auth.jwks: exactly one of 'file' or 'url' is required",
      'auth.jwks.cooldown_seconds: only applies to a JWKS url',
      "auth.groupsClaim: unknown key (did you mean 'groups_claim'?)",
      'upstream.url: must be a postgresql:// URL',
      'policies.engine: must be one of "rego", "cedar"',
      "policies: exactly one of 'directory' or 'git' is required",
      'extra: unknown key',
    ]) {
      expect(message).toContain(expected);
    }
    expect(message).toContain(file);
  });

  it('reports wrong types', async () => {
    const file = await write(
      'types.yaml',
      MINIMAL + 'listen: { port: "6432" }\nupstream_extra: 1\nlimits: { max_message_bytes: 1.5 }\n',
    );
    const message = await problemsOf(loadConfig(file));
    expect(message).toContain('listen.port: must be integer');
    expect(message).toContain('limits.max_message_bytes: must be integer');
    expect(message).toContain('upstream_extra: unknown key');
  });

  it('reports a missing section', async () => {
    const message = await problemsOf(loadConfig(await write('nosec.yaml', 'auth: { issuer: i, audience: a, jwks: { file: f } }\n')));
    expect(message).toContain('upstream: is required');
    expect(message).toContain('policies: is required');
  });

  it('refuses plain-http JWKS URLs except on loopback', async () => {
    const remote = MINIMAL.replace('file: keys/jwks.json', 'url: "http://idp.example.com/jwks"');
    expect(await problemsOf(loadConfig(await write('http.yaml', remote)))).toContain('auth.jwks.url: must use https');
    const local = MINIMAL.replace('file: keys/jwks.json', 'url: "http://127.0.0.1:8080/jwks"');
    await expect(loadConfig(await write('http-local.yaml', local))).resolves.toMatchObject({
      auth: { jwks: { kind: 'url', url: 'http://127.0.0.1:8080/jwks' } },
    });
  });

  it('reports YAML syntax errors, duplicate keys, empty files and missing files', async () => {
    expect(await problemsOf(loadConfig(await write('syntax.yaml', 'auth: [unclosed\n')))).toContain('(yaml)');
    expect(await problemsOf(loadConfig(await write('dup.yaml', `${MINIMAL}\nauth: {}\n`)))).toMatch(/unique|duplicate/i);
    expect(await problemsOf(loadConfig(await write('empty.yaml', '')))).toContain('(root): must be object');
    expect(await problemsOf(loadConfig(join(dir, 'absent.yaml')))).toContain('cannot read config file');
  });

  it('reads audit.phi_tables and resolves audit.subject_key against the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-config-'));
    const file = join(dir, 'gatehouse.yaml');
    writeFileSync(file, MINIMAL + 'audit:\n  phi_tables:\n    clinical.patients: { subject: id }\n  subject_key: keys/subject.key\n  subjects_max: 7\n');
    const config = await loadConfig(file, undefined, { env: {} });
    expect(config.audit).toMatchObject({ phiTables: { 'clinical.patients': 'id' }, subjectKeyFile: join(dir, 'keys/subject.key'), subjectsMax: 7 });
    writeFileSync(file, MINIMAL + 'audit:\n  phi_tables:\n    clinical.patients: { subject: id }\n');
    await expect(loadConfig(file, undefined, { env: {} })).rejects.toThrow(/subject_key/);
  });

  it('loads examples/gatehouse.yaml', async () => {
    const config = await loadConfig(join(REPO, 'examples/gatehouse.yaml'), undefined, { env: {} });
    expect(config.auth.jwks).toEqual({ kind: 'file', path: join(REPO, '.gatehouse/dev-keys/jwks.json') });
    expect(config.upstream.url).toBe('postgresql://gatehouse:gatehouse@127.0.0.1:5432/app');
    expect(config.policies.directory).toBe(join(REPO, 'policies/rego'));
  });
});

describe('configFromObject', () => {
  it('validates an object built in code', () => {
    const config = configFromObject(
      {
        auth: { issuer: 'i', audience: 'a', jwks: { file: 'k.json' } },
        upstream: { url: 'postgresql://localhost/x' },
        policies: { engine: 'rego', directory: 'p' },
      },
      '/srv/gh',
      {},
      { env: {} },
    );
    expect(config.baseDir).toBe('/srv/gh');
    expect(config.auth.jwks).toEqual({ kind: 'file', path: '/srv/gh/k.json' });
  });

  it('reads approval notification targets, with delivery defaults; a webhook needs its secret, slack takes none', () => {
    const base = { auth: { issuer: 'i', audience: 'a', jwks: { file: 'k.json' } }, upstream: { url: 'postgresql://localhost/x' }, policies: { engine: 'rego', directory: 'p' } };
    const config = configFromObject(
      {
        ...base,
        approvals: {
          notifications: [
            { type: 'webhook', url: 'https://hooks.example.com/gh', secret: '${HOOK_SECRET}', attempts: 3 },
            { type: 'slack', url: 'https://hooks.slack.com/services/T/B/X' },
          ],
        },
      },
      '/srv/gh',
      {},
      { env: { HOOK_SECRET: 'sixteen-chars-or-more' } },
    );
    const d = DEFAULTS.approvals.notification;
    expect(config.approvals.notifications).toEqual([
      { kind: 'webhook', url: 'https://hooks.example.com/gh', secret: 'sixteen-chars-or-more', delivery: { timeoutMs: d.timeoutMs, attempts: 3, backoffMs: d.backoffMs } },
      { kind: 'slack', url: 'https://hooks.slack.com/services/T/B/X', delivery: d },
    ]);
    const bad = (n: unknown): unknown => configFromObject({ ...base, approvals: { notifications: [n] } }, '/', {}, { env: {} });
    expect(() => bad({ type: 'webhook', url: 'https://h.example.com/' })).toThrow(/secret: is required/);
    expect(() => bad({ type: 'webhook', url: 'https://h.example.com/', secret: 'short' })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    expect(() => bad({ type: 'slack', url: 'https://h.example.com/', secret: 'sixteen-chars-or-more' })).toThrow(/secret is for type webhook only/);
    expect(() => bad({ type: 'slack', url: 'ftp://h.example.com/' })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });

  it('throws CONFIG_INVALID for a bad object', () => {
    expect(() => configFromObject({ listen: { port: -1 } }, '/')).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });
});

describe('schema defaults', () => {
  it('match the defaults the loader applies', () => {
    const props = (configSchema() as { properties: Record<string, { properties: Record<string, { default?: unknown; properties?: Record<string, { default?: unknown }> }> }> }).properties;
    const d = (section: string, key: string): unknown => props[section]?.properties[key]?.default;
    expect(d('listen', 'host')).toBe(DEFAULTS.listen.host);
    expect(d('listen', 'port')).toBe(DEFAULTS.listen.port);
    expect(d('tls', 'mode')).toBe(DEFAULTS.tls.mode);
    expect(d('auth', 'algorithms')).toEqual(DEFAULTS.auth.algorithms);
    expect(d('auth', 'groups_claim')).toBe(DEFAULTS.auth.groupsClaim);
    expect(d('auth', 'roles_claim')).toBe(DEFAULTS.auth.rolesClaim);
    expect(d('auth', 'plaintext_password')).toBe(DEFAULTS.auth.plaintextPassword);
    expect(d('auth', 'clock_tolerance_seconds')).toBe(DEFAULTS.auth.clockToleranceSeconds);
    expect(props['auth']?.properties['jwks']?.properties?.['cache_max_age_seconds']?.default).toBe(DEFAULTS.auth.cacheMaxAgeSeconds);
    expect(props['auth']?.properties['jwks']?.properties?.['cooldown_seconds']?.default).toBe(DEFAULTS.auth.cooldownSeconds);
    expect(d('upstream', 'pass_database')).toBe(DEFAULTS.upstream.passDatabase);
    expect(d('upstream', 'connect_timeout_ms')).toBe(DEFAULTS.upstream.connectTimeoutMs);
    expect(d('policies', 'activation_sample')).toBe(DEFAULTS.policies.activationSample);
    expect(d('policies', 'eval_timeout_ms')).toBe(DEFAULTS.policies.evalTimeoutMs);
    expect(d('policies', 'eval_cooldown_ms')).toBe(DEFAULTS.policies.evalCooldownMs);
    const notification = (props['approvals']?.properties['notifications'] as unknown as { items: { properties: Record<string, { default?: unknown }> } }).items.properties;
    expect(notification['timeout_ms']?.default).toBe(DEFAULTS.approvals.notification.timeoutMs);
    expect(notification['attempts']?.default).toBe(DEFAULTS.approvals.notification.attempts);
    expect(notification['backoff_ms']?.default).toBe(DEFAULTS.approvals.notification.backoffMs);
    const approvals = props['approvals']?.properties as unknown as Record<string, { default?: unknown }>;
    expect(approvals['max_pending_per_session']?.default).toBe(DEFAULTS.approvals.maxPendingPerSession);
    expect(approvals['max_pending_per_identity']?.default).toBe(DEFAULTS.approvals.maxPendingPerIdentity);
    expect(approvals['heartbeat_timeout_s']?.default).toBe(DEFAULTS.approvals.heartbeatTimeoutSeconds);
    expect(d('audit', 'file')).toBe(DEFAULTS.audit.file);
    expect(d('audit', 'fsync')).toBe(DEFAULTS.audit.fsync);
    expect(d('audit', 'checkpoint_interval_s')).toBe(DEFAULTS.audit.checkpointIntervalSeconds);
    expect(d('audit', 'redact_literals')).toBe(DEFAULTS.audit.redactLiterals);
    expect(d('limits', 'max_message_bytes')).toBe(DEFAULTS.limits.maxMessageBytes);
    expect(d('limits', 'max_statements_per_query')).toBe(DEFAULTS.limits.maxStatementsPerQuery);
    expect(d('limits', 'max_statement_bytes')).toBe(DEFAULTS.limits.maxStatementBytes);
  });
});

describe('audit.sink', () => {
  const base = (audit: string) => `
listen: { port: 0 }
auth: { issuer: i, audience: a, jwks: { file: j.json } }
upstream: { url: "postgres://u@h/db" }
policies: { engine: rego, directory: p }
audit: ${audit}
`;
  const load = async (audit: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'gh-sink-'));
    const file = join(dir, 'g.yaml');
    writeFileSync(file, base(audit));
    return loadConfig(file);
  };
  it('follows audit.postgres_url and audit.file when not named', async () => {
    expect((await load('{ postgres_url: "postgres://a@db/audit", instance: gw-1 }')).audit).toMatchObject({ sink: 'postgres', postgresUrl: 'postgres://a@db/audit', instance: 'gw-1' });
    expect((await load('{ file: "-" }')).audit.sink).toBe('stdout');
    expect((await load('{ file: a.ndjson }')).audit.sink).toBe('file');
  });
  it('refuses a sink without what it needs', async () => {
    await expect(load('{ sink: postgres }')).rejects.toThrow(/audit.postgres_url: required/);
    await expect(load('{ sink: file }')).rejects.toThrow(/audit.file: sink 'file' needs a file path/);
    await expect(load('{ sink: stdout, postgres_url: "postgres://a@db/x" }')).rejects.toThrow(/only used with audit.sink 'postgres'/);
    await expect(load('{ postgres_url: "postgres://a@db/x", postgres_table: "Audit" }')).rejects.toThrow(/postgres_table/);
  });
});
