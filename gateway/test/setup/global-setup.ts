// Vitest global setup: makes sure the pinned OPA CLI exists and PostgreSQL answers (with the client
// drivers and the optional C mask extension installed when possible), then hands
// both to the tests (inject('gatehouseOpa'), inject('pgUrl'), or the same values in process.env).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import pg from 'pg';
import { installOpa } from '../../src/policy/opa-binary.ts';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Absolute path of the OPA CLI (pinned version), for compiling Rego to WASM in tests. */
    gatehouseOpa: string;
    /** libpq URL of the test PostgreSQL server (superuser, trust auth). */
    pgUrl: string;
  }
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const DEFAULT_PG_URL = 'postgresql://postgres@127.0.0.1:5432/postgres';

// Both vitest projects run this setup; the work is done once per vitest process.
const memoKey = Symbol.for('gatehouse.globalSetup');
interface Prepared {
  opa: string;
  pgUrl: string;
}
type Memo = { [memoKey]?: Promise<Prepared> };

export default async function setup(project: TestProject): Promise<void> {
  const memo = globalThis as Memo;
  memo[memoKey] ??= prepare();
  const prepared = await memo[memoKey];
  process.env.GATEHOUSE_OPA = prepared.opa;
  process.env.GATEHOUSE_TEST_PG_URL = prepared.pgUrl;
  project.provide('gatehouseOpa', prepared.opa);
  project.provide('pgUrl', prepared.pgUrl);
}

async function prepare(): Promise<Prepared> {
  const opa = await ensureOpa();
  const pgUrl = process.env.GATEHOUSE_TEST_PG_URL ?? DEFAULT_PG_URL;
  await ensurePostgres(pgUrl);
  await ensureClients();
  if (pgUrl === DEFAULT_PG_URL) await ensureMaskExtension();
  return { opa, pgUrl };
}

/**
 * Runs scripts/ensure-clients.sh: installs the client drivers the clients-*.test.ts files run
 * (psycopg 3, pgjdbc, pgx's Go modules) when missing; well under a second when they are there.
 * A failure is not fatal here: each of those test files then fails saying what is missing.
 */
async function ensureClients(): Promise<void> {
  const { code } = await run('bash', [path.join(repoRoot, 'scripts/ensure-clients.sh')]);
  if (code !== 0) console.warn('ensure-clients.sh could not provide every client driver; the clients-*.test.ts files that need one will fail and say how to install it.');
}

/**
 * Runs scripts/ensure-mask-extension.sh: builds and installs the optional C mask extension for the
 * local PostgreSQL when missing or changed; well under a second when installed. Without it the
 * test databases use the PL/pgSQL mask functions, and gateway/test/mask-extension.test.ts is
 * skipped (a failure under CI=true, naming the script).
 */
async function ensureMaskExtension(): Promise<void> {
  const { code } = await run('bash', [path.join(repoRoot, 'scripts/ensure-mask-extension.sh')]);
  if (code !== 0) console.warn('ensure-mask-extension.sh failed to build the C mask extension (output above).');
}

/** The pinned OPA CLI (built with `go install` on first use), its progress shown on stderr. */
async function ensureOpa(): Promise<string> {
  try {
    return await installOpa((line) => process.stderr.write(`${line}\n`));
  } catch (e) {
    throw new Error(
      `Gatehouse tests need the OPA CLI (v1.22.2): ${e instanceof Error ? e.message : String(e)}. ` +
        'Install Go so scripts/ensure-opa.sh can build it, or set GATEHOUSE_OPA to an opa v1.22.2 binary.',
    );
  }
}

/** Checks that PostgreSQL answers; tries scripts/ensure-postgres.sh once when it does not. */
async function ensurePostgres(url: string): Promise<void> {
  const first = await probe(url);
  if (first === null) return;
  const usesDefault = url === DEFAULT_PG_URL;
  if (usesDefault) {
    await run('bash', [path.join(repoRoot, 'scripts/ensure-postgres.sh')]);
    const second = await probe(url);
    if (second === null) return;
  }
  throw new Error(
    `Gatehouse integration tests need PostgreSQL at ${redact(url)} (${first}). ` +
      'Start it (Debian: pg_ctlcluster --skip-systemctl-redirect <version> main start, or bash scripts/ensure-postgres.sh) ' +
      'with trust auth for user postgres, or point GATEHOUSE_TEST_PG_URL at another server.',
  );
}

/** Returns null when the server answers a query, otherwise the reason it did not. */
async function probe(url: string): Promise<string | null> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    await client.end().catch(() => undefined);
  }
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}

/** Runs a command; its standard error (progress) goes to ours, standard output is captured. */
function run(command: string, args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout }));
  });
}
