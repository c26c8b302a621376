// Turns a schema-valid config document into GatehouseConfig: defaults, camelCase, absolute paths, cross-field checks.

import { isAbsolute, resolve } from 'node:path';
import type { ConfigDocument } from './document.ts';
import type { EngineKind } from '../policy/types.ts';
import type { GatehouseConfig, GitPolicyConfig, NotificationTarget } from './types.ts';

/** Defaults for every optional key; the schema's "default" annotations say the same (a test checks). */
export const DEFAULTS = {
  listen: { host: '127.0.0.1', port: 6432 },
  tls: {
    mode: 'disable',
    // Forward secrecy only: ECDHE key exchange with AEAD ciphers in TLS 1.2, and the TLS 1.3 suites
    // (all forward-secret). Node's default list also accepts RSA key exchange (e.g. AES256-GCM-SHA384).
    ciphers: [
      'TLS_AES_256_GCM_SHA384',
      'TLS_CHACHA20_POLY1305_SHA256',
      'TLS_AES_128_GCM_SHA256',
      'ECDHE-ECDSA-AES256-GCM-SHA384',
      'ECDHE-RSA-AES256-GCM-SHA384',
      'ECDHE-ECDSA-CHACHA20-POLY1305',
      'ECDHE-RSA-CHACHA20-POLY1305',
      'ECDHE-ECDSA-AES128-GCM-SHA256',
      'ECDHE-RSA-AES128-GCM-SHA256',
    ].join(':'),
  },
  auth: {
    algorithms: ['RS256', 'ES256'],
    groupsClaim: 'groups',
    rolesClaim: 'roles',
    plaintextPassword: 'loopback',
    clockToleranceSeconds: 30,
    cacheMaxAgeSeconds: 600,
    cooldownSeconds: 30,
  },
  upstream: { passDatabase: false, connectTimeoutMs: 5000, pool: { maxConnections: 20, idleTimeoutSeconds: 300, acquireTimeoutMs: 5000 } },
  policies: { evalTimeoutMs: 100, evalCooldownMs: 10_000, activationSample: 200, git: { branch: 'main', tests: 'policy-tests', pollIntervalSeconds: 30, workDir: '.gatehouse/policy-repo' } },
  admin: { host: '127.0.0.1' },
  approvals: { maxPendingPerSession: 10, maxPendingPerIdentity: 50, heartbeatTimeoutSeconds: 15, notification: { timeoutMs: 5000, attempts: 6, backoffMs: 1000 } },
  audit: { file: '-', fsync: true, checkpointIntervalSeconds: 60, redactLiterals: true },
  limits: { maxMessageBytes: 16 * 1024 * 1024, maxStatementsPerQuery: 1000, maxStatementBytes: 1024 * 1024 },
} as const;

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

export function toConfig(doc: ConfigDocument, baseDir: string): GatehouseConfig {
  const path = (p: string): string => (isAbsolute(p) ? p : resolve(baseDir, p));
  const jwks = doc.auth.jwks;
  return {
    listen: {
      host: doc.listen?.host ?? DEFAULTS.listen.host,
      port: doc.listen?.port ?? DEFAULTS.listen.port,
    },
    tls: {
      mode: doc.tls?.mode ?? DEFAULTS.tls.mode,
      certFile: doc.tls?.cert === undefined ? null : path(doc.tls.cert),
      keyFile: doc.tls?.key === undefined ? null : path(doc.tls.key),
      ciphers: doc.tls?.ciphers ?? DEFAULTS.tls.ciphers,
    },
    auth: {
      issuer: doc.auth.issuer,
      audience: doc.auth.audience,
      algorithms: [...(doc.auth.algorithms ?? DEFAULTS.auth.algorithms)],
      jwks:
        'file' in jwks
          ? { kind: 'file', path: path(jwks.file) }
          : {
              kind: 'url',
              url: jwks.url,
              cacheMaxAgeSeconds: jwks.cache_max_age_seconds ?? DEFAULTS.auth.cacheMaxAgeSeconds,
              cooldownSeconds: jwks.cooldown_seconds ?? DEFAULTS.auth.cooldownSeconds,
            },
      groupsClaim: doc.auth.groups_claim ?? DEFAULTS.auth.groupsClaim,
      rolesClaim: doc.auth.roles_claim ?? DEFAULTS.auth.rolesClaim,
      plaintextPassword: doc.auth.plaintext_password ?? DEFAULTS.auth.plaintextPassword,
      clockToleranceSeconds: doc.auth.clock_tolerance_seconds ?? DEFAULTS.auth.clockToleranceSeconds,
    },
    upstream: {
      url: doc.upstream.url,
      passDatabase: doc.upstream.pass_database ?? DEFAULTS.upstream.passDatabase,
      connectTimeoutMs: doc.upstream.connect_timeout_ms ?? DEFAULTS.upstream.connectTimeoutMs,
      pool:
        doc.upstream.pool === undefined
          ? null
          : {
              mode: doc.upstream.pool.mode ?? 'session',
              maxConnections: doc.upstream.pool.max_connections ?? DEFAULTS.upstream.pool.maxConnections,
              idleTimeoutSeconds: doc.upstream.pool.idle_timeout_s ?? DEFAULTS.upstream.pool.idleTimeoutSeconds,
              acquireTimeoutMs: doc.upstream.pool.acquire_timeout_ms ?? DEFAULTS.upstream.pool.acquireTimeoutMs,
            },
    },
    policies: {
      engine: doc.policies.engine,
      evalTimeoutMs: doc.policies.eval_timeout_ms ?? DEFAULTS.policies.evalTimeoutMs,
      evalCooldownMs: doc.policies.eval_cooldown_ms ?? DEFAULTS.policies.evalCooldownMs,
      activationSample: doc.policies.activation_sample ?? DEFAULTS.policies.activationSample,
      ...(doc.policies.git === undefined
        ? { directory: path(doc.policies.directory ?? '.'), git: null }
        : { directory: null, git: gitConfig(doc.policies.engine, doc.policies.git, path) }),
    },
    admin:
      doc.admin === undefined
        ? null
        : {
            host: doc.admin.host ?? DEFAULTS.admin.host,
            port: doc.admin.port,
            refreshToken: doc.admin.refresh_token ?? null,
            reads: { token: doc.admin.read_token ?? null, group: doc.admin.read_group ?? null, open: doc.admin.open_reads ?? false },
          },
    approvals: {
      store: doc.approvals?.store ?? 'memory',
      pageUrl: doc.approvals?.page_url ?? null,
      maxPendingPerSession: doc.approvals?.max_pending_per_session ?? DEFAULTS.approvals.maxPendingPerSession,
      maxPendingPerIdentity: doc.approvals?.max_pending_per_identity ?? DEFAULTS.approvals.maxPendingPerIdentity,
      heartbeatTimeoutSeconds: doc.approvals?.heartbeat_timeout_s ?? DEFAULTS.approvals.heartbeatTimeoutSeconds,
      notifications: (doc.approvals?.notifications ?? []).map(notificationTarget),
    },
    audit: {
      sink: doc.audit?.sink ?? (doc.audit?.postgres_url !== undefined ? 'postgres' : doc.audit?.file === undefined || doc.audit.file === '-' ? 'stdout' : 'file'),
      file: doc.audit?.file === undefined || doc.audit.file === '-' ? DEFAULTS.audit.file : path(doc.audit.file),
      postgresUrl: doc.audit?.postgres_url ?? null,
      postgresTable: doc.audit?.postgres_table ?? 'gatehouse.audit_log',
      instance: doc.audit?.instance ?? null,
      fsync: doc.audit?.fsync ?? DEFAULTS.audit.fsync,
      preallocateBytes: doc.audit?.preallocate_bytes ?? null,
      ringBytes: doc.audit?.ring_bytes ?? null,
      signingKeyFile: doc.audit?.signing_key === undefined ? null : path(doc.audit.signing_key),
      checkpointIntervalSeconds: doc.audit?.checkpoint_interval_s ?? DEFAULTS.audit.checkpointIntervalSeconds,
      redactLiterals: doc.audit?.redact_literals ?? DEFAULTS.audit.redactLiterals,
      breakGlassKeyFile: doc.audit?.breakglass_key === undefined ? null : path(doc.audit.breakglass_key),
      rotateBytes: doc.audit?.rotate_bytes ?? null,
      rotateIntervalSeconds: doc.audit?.rotate_interval_s ?? null,
      recordingsDir: doc.audit?.recordings_dir === undefined ? null : path(doc.audit.recordings_dir),
      recordingMaxRows: doc.audit?.recording_max_rows ?? 100,
      phiTables: Object.fromEntries(Object.entries(doc.audit?.phi_tables ?? {}).map(([table, t]) => [table, t.subject])),
      subjectKeyFile: doc.audit?.subject_key === undefined ? null : path(doc.audit.subject_key),
      subjectsMax: doc.audit?.subjects_max ?? 1000,
    },
    limits: {
      maxMessageBytes: doc.limits?.max_message_bytes ?? DEFAULTS.limits.maxMessageBytes,
      maxStatementsPerQuery: doc.limits?.max_statements_per_query ?? DEFAULTS.limits.maxStatementsPerQuery,
      maxStatementBytes: doc.limits?.max_statement_bytes ?? DEFAULTS.limits.maxStatementBytes,
    },
    baseDir,
  };
}

type NotificationDocument = NonNullable<NonNullable<ConfigDocument['approvals']>['notifications']>[number];

function notificationTarget(n: NotificationDocument): NotificationTarget {
  const d = DEFAULTS.approvals.notification;
  const delivery = { timeoutMs: n.timeout_ms ?? d.timeoutMs, attempts: n.attempts ?? d.attempts, backoffMs: n.backoff_ms ?? d.backoffMs };
  // The schema requires a secret for webhook (and refuses one for slack).
  return n.type === 'webhook' ? { kind: 'webhook', url: n.url, secret: n.secret ?? '', delivery } : { kind: 'slack', url: n.url, delivery };
}

type GitDocument = NonNullable<ConfigDocument['policies']['git']>;

function gitConfig(engine: EngineKind, git: GitDocument, path: (p: string) => string): GitPolicyConfig {
  const d = DEFAULTS.policies.git;
  const tests = git.tests === undefined ? d.tests : git.tests;
  return {
    url: isRemoteUrl(git.url) ? git.url : path(git.url),
    branch: git.branch ?? d.branch,
    pin: git.pin ?? null,
    path: git.path ?? `policies/${engine}`,
    tests: tests === null || tests === '' ? null : tests,
    pollIntervalSeconds: git.poll_interval_seconds ?? d.pollIntervalSeconds,
    workDir: path(git.work_dir ?? d.workDir),
  };
}

/** A git URL ("scheme://..." or scp-like "user@host:path"), as opposed to a local path. */
function isRemoteUrl(url: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(url) || /^[^/:]+@[^/:]+:/.test(url);
}

/** A path inside the repository must stay inside it. */
function repoRelativeProblem(key: string, value: string | null | undefined): string | null {
  if (value === undefined || value === null || value === '') return null;
  if (isAbsolute(value) || value.split(/[\\/]/).includes('..')) return `${key}: must be a path inside the repository`;
  return null;
}

/** Checks the schema cannot express; each problem is "path: message". */
export function semanticProblems(doc: ConfigDocument): string[] {
  const problems: string[] = [];

  let upstream: URL | null = null;
  try {
    upstream = new URL(doc.upstream.url);
  } catch {
    problems.push('upstream.url: is not a valid URL (percent-encode special characters in the password)');
  }
  if (upstream !== null && upstream.hostname === '' && !upstream.searchParams.has('host')) {
    problems.push('upstream.url: has no host');
  }

  const admin = doc.admin;
  if (admin !== undefined && !LOOPBACK_HOSTS.has(admin.host ?? DEFAULTS.admin.host)) {
    if (admin.read_token === undefined && admin.read_group === undefined && admin.open_reads !== true) {
      problems.push(
        'admin: listens beyond loopback, so its read endpoints (/policy/status, /metrics) need credentials: set admin.read_token or admin.read_group (or admin.open_reads: true to serve them to anyone who reaches the listener)',
      );
    }
  }

  const jwks = doc.auth.jwks;
  if ('url' in jwks) {
    try {
      const url = new URL(jwks.url);
      if (url.protocol === 'http:' && !LOOPBACK_HOSTS.has(url.hostname)) {
        problems.push('auth.jwks.url: must use https (plain http is accepted only for loopback hosts)');
      } else if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        problems.push('auth.jwks.url: must be an https URL');
      }
    } catch {
      problems.push('auth.jwks.url: is not a valid URL');
    }
  }
  const audit = doc.audit;
  if (audit?.sink === 'postgres' && audit.postgres_url === undefined) problems.push("audit.postgres_url: required with audit.sink 'postgres'");
  if (audit?.sink === 'file' && (audit.file === undefined || audit.file === '-')) problems.push("audit.file: sink 'file' needs a file path ('-' is standard output: use audit.sink 'stdout')");
  if (audit?.postgres_url !== undefined && audit.sink !== undefined && audit.sink !== 'postgres') problems.push(`audit.postgres_url: only used with audit.sink 'postgres', not '${audit.sink}'`);
  if (audit?.postgres_url !== undefined) {
    try {
      new URL(audit.postgres_url);
    } catch {
      problems.push('audit.postgres_url: is not a valid URL (percent-encode special characters in the password)');
    }
  }
  const git = doc.policies.git;
  if (git !== undefined) {
    for (const problem of [repoRelativeProblem('policies.git.path', git.path), repoRelativeProblem('policies.git.tests', git.tests)]) {
      if (problem !== null) problems.push(problem);
    }
  }
  return problems;
}
