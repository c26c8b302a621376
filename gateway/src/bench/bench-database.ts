// Prepares the pgbench database on the real PostgreSQL: created when absent, then `pgbench -i`.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

/** Connects to the server's maintenance database and creates `database` when it is missing. */
export async function ensureDatabase(url: string, database: string): Promise<boolean> {
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString(), connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (found.rowCount !== 0) return false;
    await client.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
    return true;
  } finally {
    await client.end();
  }
}

/** `pgbench -i -s <scale>`: (re)creates and fills the pgbench_* tables. */
export async function initialisePgbench(url: string, scale: number): Promise<void> {
  await run('pgbench', ['-i', '-q', '-s', String(scale), url], { timeout: 300_000 });
}

export async function serverVersion(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    const result = await client.query<{ server_version: string }>('SHOW server_version');
    return result.rows[0]?.server_version ?? 'unknown';
  } finally {
    await client.end();
  }
}

export async function pgbenchVersion(): Promise<string> {
  const { stdout } = await run('pgbench', ['--version']);
  return stdout.trim();
}

/** The PostgreSQL `gatehouse bench` measures unless --upstream says otherwise. */
export const DEFAULT_BENCH_URL = 'postgresql://postgres@127.0.0.1:5432/gatehouse_bench?sslmode=disable';
