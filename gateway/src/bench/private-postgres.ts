// A throwaway PostgreSQL for the isolation harness: initdb in a temporary directory, listening on
// loopback only, with max_connections sized for the sessions (a shared server's 100 is too few for
// 200 sessions, each of which holds an upstream connection), stopped and deleted afterwards.
// When run as root, the server runs as the `postgres` system user (PostgreSQL refuses root).

import { execFile, execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { stopOnExit } from './stop-on-exit.ts';

const run = promisify(execFile);

export interface PrivatePostgres {
  /** Superuser URL of the `postgres` database. */
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (free when asked; the server takes it a moment later). */
export async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** The PostgreSQL server binaries: initdb on PATH, else the newest /usr/lib/postgresql/N/bin. */
async function binDir(): Promise<string> {
  try {
    const { stdout } = await run('pg_config', ['--bindir']);
    return stdout.trim();
  } catch {
    const { stdout } = await run('sh', ['-c', 'ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1']);
    const dir = stdout.trim();
    if (dir === '') throw new Error('no PostgreSQL server binaries found (initdb, pg_ctl): install PostgreSQL or pass --isolation-upstream');
    return dir;
  }
}

export async function startPrivatePostgres(options: { maxConnections: number; onProgress: (message: string) => void }): Promise<PrivatePostgres> {
  const bin = await binDir();
  const asRoot = process.getuid?.() === 0;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-bench-pg-'));
  const as = async (cmd: string, args: string[]): Promise<void> => {
    const file = path.join(bin, cmd);
    if (asRoot) await run('runuser', ['-u', 'postgres', '--', file, ...args], { timeout: 120_000 });
    else await run(file, args, { timeout: 120_000 });
  };
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    await chown(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  const data = path.join(dir, 'data');
  const port = await freeLoopbackPort();
  options.onProgress(`initdb in ${dir} (${asRoot ? 'as the postgres user' : 'as this user'})...`);
  await as('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync']);
  const settings = [
    '-c listen_addresses=127.0.0.1',
    `-p ${port}`,
    `-c max_connections=${options.maxConnections}`,
    `-c unix_socket_directories=${dir}`,
    // A scratch database: durability is not measured here.
    '-c fsync=off',
    '-c synchronous_commit=off',
    '-c full_page_writes=off',
    '-c shared_buffers=128MB',
  ].join(' ');
  await as('pg_ctl', ['-D', data, '-o', settings, '-l', path.join(dir, 'server.log'), '-w', '-t', '60', 'start']);
  options.onProgress(`private PostgreSQL on 127.0.0.1:${port} (max_connections ${options.maxConnections})`);
  let stopped = false;
  // Interrupted (Ctrl-C) or exiting without stop(): an immediate shutdown, synchronously.
  const forget = stopOnExit(() => {
    const args = ['-D', data, '-m', 'immediate', '-w', '-t', '30', 'stop'];
    const file = path.join(bin, 'pg_ctl');
    try {
      if (asRoot) execFileSync('runuser', ['-u', 'postgres', '--', file, ...args], { stdio: 'ignore', timeout: 30_000 });
      else execFileSync(file, args, { stdio: 'ignore', timeout: 30_000 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  return {
    url: `postgresql://postgres@127.0.0.1:${port}/postgres?sslmode=disable`,
    port,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      forget();
      await as('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '60', 'stop']).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
