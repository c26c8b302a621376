// Gatehouse's memory idle and with many client sessions open, and how fast sessions open: a
// private PostgreSQL sized for them (each session without upstream.pool holds its own upstream
// connection), Gatehouse as a child process so that its RSS is its own, N sessions opened a bounded
// number at a time over loopback, each logging in and running one statement.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { DEV_ALGORITHM, ensureDevKeys, mintDevToken } from '../auth/dev-keys.ts';
import type { EngineKind } from '../policy/types.ts';
import { MAX_MEMORY_SESSIONS, type SessionMemory } from './bench-results.ts';
import { childProcessMemory } from './child-processes.ts';
import { startGatewayProcess, type GatewayProcess } from './gateway-process.ts';
import { startPrivatePostgres, type PrivatePostgres } from './private-postgres.ts';

/** Logins in flight at once. */
const CONCURRENCY = 50;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function measureSessionMemory(options: {
  sessions: number;
  engine: EngineKind;
  repoRoot: string;
  step: (message: string) => void;
  /** Variables set for the gateway process over this process's environment. */
  env?: Record<string, string>;
}): Promise<SessionMemory> {
  const { step, sessions } = options;
  if (sessions < 1 || sessions > MAX_MEMORY_SESSIONS) throw new Error(`sessions must be 1..${MAX_MEMORY_SESSIONS}`);
  const workDir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-bench-memory-'));
  const maxConnections = sessions + 60;
  let privatePg: PrivatePostgres | null = null;
  let gateway: GatewayProcess | null = null;
  const clients: pg.Client[] = [];
  try {
    privatePg = await startPrivatePostgres({ maxConnections, onProgress: step });
    const keyDir = path.join(workDir, 'keys');
    const keys = await ensureDevKeys(keyDir);
    const token = await mintDevToken({ keyDir, subject: 'bench-memory', groups: ['bench'], ttlSeconds: 3600 });
    gateway = await startGatewayProcess({
      repoRoot: options.repoRoot,
      workDir,
      ...(options.env === undefined ? {} : { env: options.env }),
      config: {
        listen: { host: '127.0.0.1', port: 0 },
        tls: { mode: 'disable' },
        auth: { issuer: keys.issuer, audience: keys.audience, algorithms: [DEV_ALGORITHM], jwks: { file: keys.jwksPath }, plaintext_password: 'loopback' },
        upstream: { url: privatePg.url, pass_database: false },
        policies: { engine: options.engine, directory: path.join(options.repoRoot, 'policies', options.engine) },
        audit: { file: path.join(workDir, 'audit.ndjson') },
      },
    });
    const gw = gateway;
    // Let start-up work (policy load, parser load, first GC) settle before reading "idle".
    await sleep(2_000);
    const idleRssBytes = await gw.rssBytes();
    const idleChildren = (await childProcessMemory(gw.pid)).map(({ command, rssBytes }) => ({ command, rssBytes }));
    step(`Gatehouse pid ${gw.pid}: idle RSS ${mb(idleRssBytes)} MB; opening ${sessions} sessions, ${CONCURRENCY} at a time...`);

    const errors: string[] = [];
    let next = 0;
    const started = performance.now();
    const worker = async (): Promise<void> => {
      while (next < sessions) {
        next += 1;
        const client = new pg.Client({ host: '127.0.0.1', port: gw.port, user: 'bench', database: 'postgres', password: token, connectionTimeoutMillis: 60_000 });
        client.on('error', () => undefined);
        try {
          await client.connect();
          await client.query('SELECT 1');
          clients.push(client);
        } catch (e) {
          if (errors.length < 5) errors.push(e instanceof Error ? e.message : String(e));
          await client.end().catch(() => undefined);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, sessions) }, worker));
    const openSeconds = (performance.now() - started) / 1000;
    await sleep(1_000);
    const rssWithSessionsBytes = await gw.rssBytes();
    const opened = clients.length;
    step(`${clients.length}/${sessions} sessions open after ${openSeconds.toFixed(1)} s; RSS ${mb(rssWithSessionsBytes)} MB`);
    await Promise.all(clients.splice(0).map((c) => c.end().catch(() => undefined)));
    await sleep(3_000);
    const rssAfterCloseBytes = await gw.rssBytes();
    step(`sessions closed; RSS ${mb(rssAfterCloseBytes)} MB`);
    return {
      upstream: `a private PostgreSQL (initdb, loopback, max_connections ${maxConnections}; no upstream.pool: each session holds its own upstream connection)`,
      idleRssBytes,
      idleChildren,
      sessions,
      opened,
      concurrency: Math.min(CONCURRENCY, sessions),
      rssWithSessionsBytes,
      rssAfterCloseBytes,
      openSeconds,
      sessionsPerSecond: openSeconds > 0 && opened > 0 ? opened / openSeconds : null,
      errors,
    };
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    await gateway?.stop().catch(() => undefined);
    await privatePg?.stop().catch(() => undefined);
    await rm(workDir, { recursive: true, force: true });
  }
}

function mb(bytes: number | null): string {
  return bytes === null ? 'n/a' : (bytes / 1024 / 1024).toFixed(0);
}
