// PgBouncer for the bench: the anchor Gatehouse's speed is judged against. Started by the bench in
// session mode on a free loopback port, with its own temporary config and auth file, pointed at the
// PostgreSQL the bench measures, and stopped at the end (also when the bench is interrupted).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { access, chmod, chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freeLoopbackPort } from './private-postgres.ts';
import { stopOnExit } from './stop-on-exit.ts';

const run = promisify(execFile);

export interface PgbouncerConfigOptions {
  /** The PostgreSQL the bench measures (libpq URL; its user logs in upstream, its password if any). */
  upstreamUrl: string;
  /** The database name clients ask for (and PgBouncer forwards to). */
  database: string;
  port: number;
  authFile: string;
  /** The user and password clients log in with (checked by PgBouncer, `auth_type = plain`). */
  clientUser: string;
  clientPassword: string;
  /** Server connections per (database, user): at least the most clients of any run. */
  poolSize: number;
  /** Client connections PgBouncer accepts. */
  maxClients: number;
}

/** libpq keyword/value quoting: single quotes, with ' and \ escaped. */
function quoteValue(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** An auth_file line: "user" "password", with " doubled. */
function authLine(user: string, password: string): string {
  const q = (s: string): string => `"${s.replace(/"/g, '""')}"`;
  return `${q(user)} ${q(password)}\n`;
}

/** The pgbouncer.ini and auth file text for one bench run. */
export function pgbouncerConfig(o: PgbouncerConfigOptions): { ini: string; auth: string } {
  const upstream = new URL(o.upstreamUrl);
  const host = decodeURIComponent(upstream.hostname.replace(/^\[(.*)\]$/, '$1')) || '127.0.0.1';
  const server: string[] = [
    `host=${quoteValue(host)}`,
    `port=${upstream.port || '5432'}`,
    `dbname=${quoteValue(o.database)}`,
    `user=${quoteValue(decodeURIComponent(upstream.username) || 'postgres')}`,
  ];
  if (upstream.password !== '') server.push(`password=${quoteValue(decodeURIComponent(upstream.password))}`);
  const ini = [
    '; Written by `gatehouse bench` for one run; deleted when the run ends.',
    '[databases]',
    `${quoteIdent(o.database)} = ${server.join(' ')}`,
    '',
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${o.port}`,
    // No Unix socket: loopback TCP only, like the other two targets.
    'unix_socket_dir =',
    // Cleartext password over loopback, as Gatehouse's `auth.plaintext_password` (the JWT is the password).
    'auth_type = plain',
    `auth_file = ${o.authFile}`,
    'pool_mode = session',
    `default_pool_size = ${o.poolSize}`,
    'min_pool_size = 0',
    'reserve_pool_size = 0',
    `max_client_conn = ${o.maxClients}`,
    // Give idle server connections back within seconds of a run: the bench shares PostgreSQL's
    // max_connections, and the next target's run needs its own. (A session-mode server connection
    // is not idle while its client is connected, so runs are not affected.)
    'server_idle_timeout = 2',
    'server_lifetime = 3600',
    // One log line per connection would be PgBouncer work that Gatehouse does not do.
    'log_connections = 0',
    'log_disconnections = 0',
    'log_pooler_errors = 1',
    'stats_period = 3600',
    'ignore_startup_parameters = extra_float_digits,options',
    '',
  ].join('\n');
  return { ini, auth: authLine(o.clientUser, o.clientPassword) };
}

/** Database names in [databases] are bare words unless they need double quotes. */
function quoteIdent(name: string): string {
  return /^[A-Za-z0-9_]+$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

export interface RunningPgbouncer {
  pid: number;
  port: number;
  /** libpq URL pgbench connects with (the password goes in PGPASSWORD: see `password`). */
  url: string;
  password: string;
  stop(): Promise<void>;
}

/** The pgbouncer binary: on PATH, else Debian's /usr/sbin/pgbouncer; null when not installed. */
export async function findPgbouncer(): Promise<string | null> {
  for (const candidate of [...(process.env.PATH ?? '').split(':').filter((d) => d !== ''), '/usr/sbin', '/usr/local/sbin']) {
    const file = path.join(candidate, 'pgbouncer');
    try {
      await access(file);
      return file;
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * Starts PgBouncer (scripts/ensure-pgbouncer.sh installs it when missing). As root it runs as the
 * `postgres` system user: PgBouncer refuses to run as root.
 */
export async function startPgbouncer(options: {
  upstreamUrl: string;
  database: string;
  poolSize: number;
  maxClients: number;
  repoRoot: string;
  onProgress: (message: string) => void;
}): Promise<RunningPgbouncer> {
  let binary = await findPgbouncer();
  if (binary === null) {
    options.onProgress('pgbouncer is not installed: running scripts/ensure-pgbouncer.sh...');
    try {
      await run(path.join(options.repoRoot, 'scripts/ensure-pgbouncer.sh'), [], { timeout: 600_000 });
    } catch (e) {
      const stderr = (e as { stderr?: string }).stderr?.trim();
      throw new Error(`PgBouncer is needed as the bench's reference and could not be installed (${stderr || String(e)}): apt-get install -y pgbouncer, or run with --only isolation`);
    }
    binary = await findPgbouncer();
    if (binary === null) throw new Error('pgbouncer is still not found after scripts/ensure-pgbouncer.sh: apt-get install -y pgbouncer');
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-bench-pgbouncer-'));
  const ids = process.getuid?.() === 0 ? await postgresUserIds() : null;
  const port = await freeLoopbackPort();
  const password = randomBytes(18).toString('base64url');
  const authFile = path.join(dir, 'users.txt');
  const iniFile = path.join(dir, 'pgbouncer.ini');
  const { ini, auth } = pgbouncerConfig({ ...options, port, authFile, clientUser: 'bench', clientPassword: password });
  await writeFile(authFile, auth, { mode: 0o600 });
  await writeFile(iniFile, ini, { mode: 0o600 });
  if (ids !== null) {
    for (const file of [dir, authFile, iniFile]) await chown(file, ids.uid, ids.gid);
    await chmod(dir, 0o700);
  }
  const child: ChildProcess = spawn(binary, [iniFile], {
    stdio: ['ignore', 'ignore', 'pipe'],
    ...(ids === null ? {} : { uid: ids.uid, gid: ids.gid }),
  });
  let log = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (log = (log + chunk).slice(-4_000)));
  let exited = false;
  child.once('exit', () => (exited = true));
  const forget = stopOnExit(() => {
    if (!exited) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  const stop = async (): Promise<void> => {
    if (!exited) {
      const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      // SIGTERM: immediate shutdown (SIGINT would wait for clients).
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await done;
      clearTimeout(timer);
    }
    forget();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(port, 15_000, () => (exited ? `pgbouncer exited: ${log.trim().split('\n').slice(-3).join(' | ')}` : null));
  } catch (e) {
    await stop();
    throw e;
  }
  options.onProgress(`PgBouncer ${child.pid} listening on 127.0.0.1:${port} (session mode, pool ${options.poolSize})`);
  return {
    pid: child.pid!,
    port,
    password,
    url: `postgresql://bench@127.0.0.1:${port}/${encodeURIComponent(options.database)}?sslmode=disable`,
    stop,
  };
}

/** `pgbouncer --version`'s first line. */
export async function pgbouncerVersion(): Promise<string> {
  const binary = await findPgbouncer();
  if (binary === null) return 'pgbouncer not installed';
  const { stdout } = await run(binary, ['--version']);
  return stdout.split('\n')[0]!.trim();
}

async function postgresUserIds(): Promise<{ uid: number; gid: number }> {
  try {
    const { stdout: uid } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    return { uid: Number(uid.trim()), gid: Number(gid.trim()) };
  } catch {
    throw new Error('PgBouncer refuses to run as root and there is no `postgres` system user to run it as: run the bench as another user');
  }
}

/** Resolves once something accepts TCP connections on 127.0.0.1:port; `failed` says why to give up early. */
async function waitForPort(port: number, timeoutMs: number, failed: () => string | null): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const why = failed();
    if (why !== null) throw new Error(why);
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`PgBouncer did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
