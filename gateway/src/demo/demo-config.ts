// Builds the demo's Gatehouse configuration in code: the same snake_case shape as a YAML file,
// validated by the regular loader, so the demo exercises the real configuration path.
import path from 'node:path';
import type { EngineKind } from '../policy/types.ts';
import type { GatehouseConfig } from '../config/types.ts';
import { configFromObject } from '../config/load.ts';
import { DEV_ALGORITHM } from '../auth/dev-keys.ts';
import type { DevKeys } from '../auth/dev-keys.ts';

export interface DemoConfigInput {
  host: string;
  port: number;
  upstreamUrl: string;
  engine: EngineKind;
  /** A policy directory served as it is, or a git repository followed on branch main. */
  policies: { type: 'directory'; dir: string } | { type: 'git'; repoDir: string; workDir: string };
  /** The admin listener (policy status and refresh); null for none, 0 for a free port. */
  adminPort: number | null;
  auditFile: string;
  keys: DevKeys;
  baseDir: string;
}

/** The demo's settings as a YAML-shaped object (shown by `gatehouse demo --print-config`). */
export function demoConfigObject(input: DemoConfigInput): Record<string, unknown> {
  return {
    listen: { host: input.host, port: input.port },
    tls: { mode: 'disable' },
    auth: {
      issuer: input.keys.issuer,
      audience: input.keys.audience,
      algorithms: [DEV_ALGORITHM],
      jwks: { file: path.resolve(input.keys.jwksPath) },
      groups_claim: 'groups',
      roles_claim: 'roles',
      // Tokens travel as cleartext passwords: acceptable only because everything is on loopback.
      plaintext_password: 'loopback',
    },
    upstream: { url: input.upstreamUrl, pass_database: false },
    policies:
      input.policies.type === 'directory'
        ? { engine: input.engine, directory: path.resolve(input.policies.dir) }
        : {
            engine: input.engine,
            // Activated on start, then on SIGHUP or POST /policy/refresh: no polling, so a commit
            // goes live when the user says so.
            git: { url: path.resolve(input.policies.repoDir), branch: 'main', poll_interval_seconds: 0, work_dir: path.resolve(input.policies.workDir) },
          },
    ...(input.adminPort === null ? {} : { admin: { host: input.host, port: input.adminPort } }),
    audit: { file: path.resolve(input.auditFile) },
  };
}

export function buildDemoConfig(input: DemoConfigInput): GatehouseConfig {
  return configFromObject(demoConfigObject(input), input.baseDir);
}
