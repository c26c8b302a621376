// The validated configuration, as the rest of the gateway sees it (camelCase, defaults applied).
// The YAML file uses snake_case and is validated against schemas/config.schema.json.

import type { EngineKind } from '../policy/types.ts';

export type TlsMode =
  | 'disable' // no TLS; SSLRequest answered 'N'
  | 'allow' // TLS offered; plaintext accepted (password over plaintext still subject to auth.plaintextPassword)
  | 'require'; // plaintext StartupMessage refused with 28000

export type PlaintextPasswordPolicy = 'never' | 'loopback' | 'always';

export type JwksSource =
  | { kind: 'file'; path: string }
  | { kind: 'url'; url: string; cacheMaxAgeSeconds: number; cooldownSeconds: number };

export interface UpstreamPoolConfig {
  /** session: a client session holds one connection from login to disconnect. */
  mode: 'session';
  /** Upstream connections per database (open or opening). */
  maxConnections: number;
  /** Idle connections are closed after this long; 0: never. */
  idleTimeoutSeconds: number;
  /** How long a login waits for a connection when the pool is full (then FATAL 53300). */
  acquireTimeoutMs: number;
}

export interface GatehouseConfig {
  listen: { host: string; port: number };
  /** `ciphers`: OpenSSL cipher list offered to clients (TLS 1.2 suites, and TLS 1.3 ones named TLS_*). */
  tls: { mode: TlsMode; certFile: string | null; keyFile: string | null; ciphers: string };
  auth: {
    issuer: string;
    audience: string;
    algorithms: string[];
    jwks: JwksSource;
    groupsClaim: string;
    rolesClaim: string;
    /** Whether a JWT may be sent as a cleartext password over a non-TLS connection. */
    plaintextPassword: PlaintextPasswordPolicy;
    clockToleranceSeconds: number;
  };
  upstream: {
    /** libpq-style URL with Gatehouse's own credentials: postgresql://user:pass@host:port/db?sslmode=... */
    url: string;
    /** When true, the database the client names is used upstream; otherwise the URL's database. */
    passDatabase: boolean;
    connectTimeoutMs: number;
    /** Session pooling of upstream connections (pg/upstream-pool.ts); null: one connection per client session. */
    pool: UpstreamPoolConfig | null;
  };
  policies: {
    engine: EngineKind;
    /** Per-decision evaluation timeout; exceeded means deny. */
    evalTimeoutMs: number;
    /** After an evaluation overran its budget, the same identity's statements of that shape are refused unevaluated this long (0: never). */
    evalCooldownMs: number;
    /** How many recent distinct statements of the audit log a new policy is also timed on at activation (0: none). */
    activationSample: number;
  } & (
    | {
        /** Directory holding the policies for the engine (Rego files, or Cedar policies + schema). */
        directory: string;
        git: null;
      }
    | { directory: null; git: GitPolicyConfig }
  );
  /** The operators' HTTP listener (policy status and refresh); null when not configured. */
  admin: AdminConfig | null;
  /** Held statements' approval requests (docs/approvals.md): answered on the admin listener. */
  approvals: ApprovalsConfig;
  audit: {
    /** Where records go (audit/open-sink.ts); absent: as audit.file and audit.postgresUrl say. */
    sink?: AuditSinkKind;
    /** NDJSON file path, or "-" for standard output. */
    file: string;
    /** Sink postgres: the database, the table (schema.table) and this gateway's chain in it (null: generated and kept). */
    postgresUrl?: string | null;
    postgresTable?: string;
    instance?: string | null;
    /** fdatasync before a statement is forwarded, shared by concurrent statements (group commit). Always set by the loader. */
    fsync?: boolean;
    /** Ed25519 private key (PKCS#8 PEM) that signs checkpoints; null: the chain is written unsigned. */
    signingKeyFile?: string | null;
    /** Seconds between interval checkpoints. */
    checkpointIntervalSeconds?: number;
    /** Replace literals in recorded statement text by placeholders (audit/redact.ts). */
    redactLiterals?: boolean;
    /** X25519 public key file: statements as sent, with parameters, are sealed to it (audit/seal.ts); null: not kept. */
    breakGlassKeyFile?: string | null;
    /** Zero bytes the durable file is extended by ahead of its records (audit/append-file.ts); null: the default (0, none). */
    preallocateBytes?: number | null;
    /** The write-ahead ring beside a durable file (audit/write-ahead-ring.ts); null: the default (0, none). */
    ringBytes?: number | null;
    /** Built-in rotation (audit/file-sink.ts): by size in bytes, by time in seconds; null: none. */
    rotateBytes?: number | null;
    rotateIntervalSeconds?: number | null;
    /** Session recordings (audit/session-recording.ts): where, and rows kept per result set; null: none. */
    recordingsDir?: string | null;
    recordingMaxRows?: number;
    /** Accounting of disclosures (enforce/subject-columns.ts): PHI tables ("schema.table") and their subject columns; empty: none. */
    phiTables?: Record<string, string>;
    /** HMAC key file for subject hashes (audit/subjects.ts); null: none (required with phiTables). */
    subjectKeyFile?: string | null;
    /** Distinct subject hashes kept per table and statement. */
    subjectsMax?: number;
  };
  limits: {
    /** Largest frontend message accepted, in bytes; larger closes the connection with 08P01. */
    maxMessageBytes: number;
    /** Most statements one simple Query may hold; more is refused with 54000 before parsing. */
    maxStatementsPerQuery: number;
    /** Largest SQL text (a Query string, or a Parse's statement) that is parsed and decided; larger is refused with 54000. */
    maxStatementBytes: number;
  };
  /** Base directory relative paths in the file were resolved against. */
  baseDir: string;
}

/** policies.git: a repository followed commit by commit (docs/policy-lifecycle.md). */
export interface GitPolicyConfig {
  /** A URL, or an absolute local path (a relative path in the file is resolved against baseDir). */
  url: string;
  branch: string;
  /** A commit or tag to stay on; null follows the branch. */
  pin: string | null;
  /** The engine's policy directory, relative to the repository root. */
  path: string;
  /** The test cases directory, relative to the repository root; null runs no cases. */
  tests: string | null;
  /** 0: no polling. */
  pollIntervalSeconds: number;
  /** Absolute: mirror, checked-out commits, build cache, status.json. */
  workDir: string;
}

export interface AdminConfig {
  host: string;
  port: number;
  /** When set, POST /policy/refresh must carry it in X-Gatehouse-Token. */
  refreshToken: string | null;
  /**
   * Who may read GET /policy/status and /metrics (admin/read-auth.ts): a bearer token equal to
   * `token`, or a JWT from the configured issuer whose groups include `group`. Both null: anyone
   * who reaches the listener (allowed beyond loopback only with `open`).
   */
  reads: { token: string | null; group: string | null; open: boolean };
}

export interface ApprovalsConfig {
  /** memory: this process only, lost at restart; postgres: schema gatehouse on the upstream, shared by instances. */
  store: 'memory' | 'postgres';
  /** The page's address as approvers reach it, told to held clients; null: the admin listener's own address. */
  pageUrl: string | null;
  /** Most pending requests one session may have at once; a statement over it is refused (53400). */
  maxPendingPerSession: number;
  /** Most pending requests one identity (subject and issuer) may have at once, over every session and instance. */
  maxPendingPerIdentity: number;
  /** An instance whose heartbeat in the shared store is older than this is taken for stopped: its pending requests are withdrawn. */
  heartbeatTimeoutSeconds: number;
  /** Announced on every new request and every conclusion (approvals/notifications/). */
  notifications: NotificationTarget[];
}

/** How one notification is delivered: attempts in all, and the wait before the first retry (doubled after each). */
export interface DeliveryPolicy {
  timeoutMs: number;
  attempts: number;
  backoffMs: number;
}

export type NotificationTarget =
  | { kind: 'webhook'; url: string; secret: string; delivery: DeliveryPolicy }
  | { kind: 'slack'; url: string; delivery: DeliveryPolicy };

/** The audit sinks a configuration can name. */
export type AuditSinkKind = 'file' | 'stdout' | 'postgres';
