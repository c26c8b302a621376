// `gatehouse serve --check` beyond validation: the files a configuration names exist and load, and
// the upstream database accepts Gatehouse's credentials (skipped with --offline).

import { constants, existsSync } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createTokenVerifier } from '../auth/token-verifier.ts';
import type { GatehouseConfig } from '../config/types.ts';
import { probeUpstream } from '../pg/upstream/probe.ts';
import { readPolicyFiles } from '../policy/policy-files.ts';

export type CheckResult =
  | { status: 'ok'; what: string; detail: string }
  | { status: 'failed'; what: string; detail: string }
  | { status: 'skipped'; what: string; detail: string };

export async function checkConfiguredResources(config: GatehouseConfig, opts: { offline: boolean }): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const ok = (what: string, detail: string): void => void results.push({ status: 'ok', what, detail });
  const failed = (what: string, detail: string): void => void results.push({ status: 'failed', what, detail });
  const skipped = (what: string, detail: string): void => void results.push({ status: 'skipped', what, detail });

  if (config.tls.mode !== 'disable') {
    for (const [what, file] of [['tls.cert', config.tls.certFile], ['tls.key', config.tls.keyFile]] as const) {
      if (file && (await readable(file))) ok(what, file);
      else failed(what, `${file ?? '(not set)'} does not exist or is not readable`);
    }
  }

  const jwks = config.auth.jwks;
  const jwksWhat = jwks.kind === 'file' ? 'auth.jwks.file' : 'auth.jwks.url';
  if (jwks.kind === 'file' && !existsSync(jwks.path)) {
    failed(jwksWhat, `${jwks.path} does not exist (for development keys: gatehouse token --config <this file> creates it)`);
  } else if (jwks.kind === 'url' && opts.offline) {
    skipped(jwksWhat, `${jwks.url} not fetched (--offline)`);
  } else {
    try {
      await createTokenVerifier(config.auth, config.baseDir).warm();
      ok(jwksWhat, jwks.kind === 'file' ? `${jwks.path} is a valid key set` : `${jwks.url} answered with a valid key set`);
    } catch (e) {
      failed(jwksWhat, message(e));
    }
  }

  const policies = config.policies;
  if (policies.git === null) {
    const files = await readPolicyFiles(policies.directory, policies.engine).catch(() => null);
    if (files === null) failed('policies.directory', `${policies.directory} does not exist or cannot be read`);
    else if (files.length === 0) failed('policies.directory', `${policies.directory} holds no .${policies.engine} policy files`);
    else ok('policies.directory', `${policies.directory}: ${files.length} ${policies.engine} file(s)`);
  } else if (isLocalPath(policies.git.url)) {
    if (existsSync(policies.git.url)) ok('policies.git.url', policies.git.url);
    else failed('policies.git.url', `${policies.git.url} does not exist`);
  } else {
    skipped('policies.git.url', 'a remote repository is fetched when serve starts');
  }

  if (config.audit.sink === 'postgres') {
    if (opts.offline) skipped('audit.postgres_url', 'not contacted (--offline)');
    else {
      const probe = await probeUpstream(config.audit.postgresUrl!, config.upstream.connectTimeoutMs);
      if (probe.ok) ok('audit.postgres_url', `connected as ${probe.user} to database ${probe.database}`);
      else failed('audit.postgres_url', probe.reason);
    }
  } else if (config.audit.sink !== 'stdout' && config.audit.file !== '-') {
    const dir = await nearestExisting(dirname(config.audit.file));
    if (await writable(dir)) ok('audit.file', config.audit.file);
    else failed('audit.file', `cannot write under ${dir}`);
  }

  if (opts.offline) {
    skipped('upstream.url', 'not contacted (--offline)');
  } else {
    const probe = await probeUpstream(config.upstream.url, config.upstream.connectTimeoutMs);
    if (probe.ok) ok('upstream.url', `connected as ${probe.user} to database ${probe.database} (PostgreSQL ${probe.serverVersion})`);
    else failed('upstream.url', probe.reason);
  }
  return results;
}

/** A repository URL with a scheme or scp-like host part is remote; anything else is a path (already resolved). */
function isLocalPath(url: string): boolean {
  return !/^[a-z][a-z0-9+.-]*:\/\//i.test(url) && !/^[^/]+@[^/]+:/.test(url);
}

async function readable(path: string): Promise<boolean> {
  try {
    await access(path, constants.R_OK);
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

async function writable(dir: string): Promise<boolean> {
  try {
    await access(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** The directory itself, or the closest ancestor that exists (serve creates the rest). */
async function nearestExisting(dir: string): Promise<string> {
  let current = dir;
  while (!existsSync(current) && dirname(current) !== current) current = dirname(current);
  return current;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
