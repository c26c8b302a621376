// The bench's PgBouncer (gateway/src/bench/pgbouncer.ts), real: started in session mode in front of
// the test PostgreSQL with its own config and auth file, serving pgbench and node-postgres, refusing
// a wrong password, its CPU readable from /proc, and gone (process and files) after stop.
import { access, readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { runPgbench } from '../src/bench/pgbench.ts';
import { startPgbouncer, type RunningPgbouncer } from '../src/bench/pgbouncer.ts';
import { startCpuMeter } from '../src/bench/process-cpu.ts';
import { REPO_ROOT, TEST_DB, connectSqlstate, ensureDatabase } from './support/harness.ts';

const DB = `${TEST_DB}_pgbouncer`;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('the bench\'s PgBouncer', () => {
  let bouncer: RunningPgbouncer | null = null;
  let url: string;

  beforeAll(async () => {
    url = await ensureDatabase(DB);
    const init = await runPgbench({ args: ['-i', '-q', '-s', '1', url], killAfterMs: 120_000 });
    expect(init.exitCode, init.output).toBe(0);
    bouncer = await startPgbouncer({ upstreamUrl: url, database: DB, poolSize: 4, maxClients: 20, repoRoot: REPO_ROOT, onProgress: () => undefined });
  });
  afterAll(async () => bouncer?.stop());

  it('serves pgbench -S in session mode, and its CPU is read from /proc', async () => {
    const b = bouncer!;
    const cpu = await startCpuMeter(b.pid);
    const run = await runPgbench({
      args: ['-S', '-n', '-t', '200', '-c', '4', '-j', '2', '-M', 'extended', b.url],
      env: { ...process.env, PGPASSWORD: b.password },
      killAfterMs: 120_000,
    });
    expect(run.exitCode, run.output).toBe(0);
    expect(run.summary?.transactions).toBe(800);
    const micros = await cpu();
    expect(micros).not.toBeNull();
    expect(micros!).toBeGreaterThanOrEqual(0);
  });

  it('logs clients in with the generated password only', async () => {
    const b = bouncer!;
    const client = new pg.Client({ host: '127.0.0.1', port: b.port, user: 'bench', database: DB, password: b.password });
    await client.connect();
    try {
      const { rows } = await client.query<{ db: string }>('SELECT current_database() AS db');
      expect(rows[0]!.db).toBe(DB);
    } finally {
      await client.end();
    }
    // PgBouncer refuses a failed login with 08P01 (PostgreSQL itself would say 28P01).
    expect(await connectSqlstate({ host: '127.0.0.1', port: b.port, user: 'bench', database: DB, password: 'wrong' })).toBe('08P01');
  });

  it('stops: the process exits and its config directory is removed', async () => {
    const b = bouncer!;
    bouncer = null;
    const cmdline = await readFile(`/proc/${b.pid}/cmdline`, 'utf8');
    const iniFile = cmdline.split('\0').find((arg) => arg.endsWith('pgbouncer.ini'))!;
    expect(iniFile).toBeDefined();
    await b.stop();
    expect(alive(b.pid)).toBe(false);
    await expect(access(iniFile)).rejects.toThrow();
  });
});
