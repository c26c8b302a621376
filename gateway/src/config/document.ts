// The configuration document as written in gatehouse.yaml (snake_case), before defaults and path resolution.

import type { EngineKind } from '../policy/types.ts';
import type { PlaintextPasswordPolicy, TlsMode } from './types.ts';

export interface ConfigDocument {
  $schema?: string;
  listen?: { host?: string; port?: number };
  tls?: { mode?: TlsMode; cert?: string; key?: string; ciphers?: string };
  auth: {
    issuer: string;
    audience: string;
    algorithms?: string[];
    jwks: { file: string } | { url: string; cache_max_age_seconds?: number; cooldown_seconds?: number };
    groups_claim?: string;
    roles_claim?: string;
    plaintext_password?: PlaintextPasswordPolicy;
    clock_tolerance_seconds?: number;
  };
  upstream: {
    url: string;
    pass_database?: boolean;
    connect_timeout_ms?: number;
    pool?: { mode?: 'session'; max_connections?: number; idle_timeout_s?: number; acquire_timeout_ms?: number };
  };
  policies: {
    engine: EngineKind;
    eval_timeout_ms?: number;
    eval_cooldown_ms?: number;
    activation_sample?: number;
    /** Exactly one of directory and git (the schema's oneOf). */
    directory?: string;
    git?: {
      url: string;
      branch?: string;
      pin?: string;
      path?: string;
      tests?: string | null;
      poll_interval_seconds?: number;
      work_dir?: string;
    };
  };
  admin?: { host?: string; port: number; refresh_token?: string; read_token?: string; read_group?: string; open_reads?: boolean };
  approvals?: {
    store?: 'memory' | 'postgres';
    page_url?: string;
    max_pending_per_session?: number;
    max_pending_per_identity?: number;
    heartbeat_timeout_s?: number;
    notifications?: Array<{ type: 'webhook' | 'slack'; url: string; secret?: string; timeout_ms?: number; attempts?: number; backoff_ms?: number }>;
  };
  audit?: { sink?: 'file' | 'stdout' | 'postgres'; file?: string; postgres_url?: string; postgres_table?: string; instance?: string; fsync?: boolean; preallocate_bytes?: number; ring_bytes?: number; signing_key?: string; checkpoint_interval_s?: number; redact_literals?: boolean; breakglass_key?: string; rotate_bytes?: number; rotate_interval_s?: number; recordings_dir?: string; recording_max_rows?: number; phi_tables?: Record<string, { subject: string }>; subject_key?: string; subjects_max?: number };
  limits?: { max_message_bytes?: number; max_statements_per_query?: number; max_statement_bytes?: number };
}

/** Overrides use the same snake_case keys as the file; objects merge, other values replace. */
export type DeepPartial<T> = T extends readonly unknown[]
  ? T
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;

export type ConfigOverrides = DeepPartial<ConfigDocument>;
