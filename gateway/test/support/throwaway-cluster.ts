// A throwaway PostgreSQL 15 cluster for tests that need a server of their own (its pg_hba.conf, TLS,
// statement log): initdb into a new directory under /tmp as the postgres OS user, listening on loopback
// only with fsync off, stopped at once and deleted at the end. Runs only as root with PostgreSQL 15.

import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { freeLoopbackPort } from '../../src/bench/private-postgres.ts';

const BIN = '/usr/lib/postgresql/15/bin';

/** Whether this machine can run one: root (to run the server as postgres) and the PostgreSQL 15 binaries. */
export const canRunThrowawayCluster = process.getuid?.() === 0 && existsSync(`${BIN}/initdb`);

/** The postgres OS user's uid (files the server reads must be its own). */
export function postgresUid(): number {
  return Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
}

function asPostgres(cmd: string, args: string[]): void {
  execFileSync('runuser', ['-u', 'postgres', '--', `${BIN}/${cmd}`, ...args], { stdio: 'pipe' });
}

export interface ThrowawayClusterOptions {
  /** The new directory's prefix under /tmp. */
  prefix: string;
  /** The server log's file name in that directory. */
  logFile: string;
  /** How long pg_ctl waits for the start, seconds. */
  startTimeoutS: number;
  /** More server options after port, socket directory, listen_addresses and fsync (`-c name=value ...`), given the directory. */
  settings?: (dir: string) => string;
  /** Run after initdb, before the start (pg_hba.conf, certificates): the directory and the data directory. */
  configure?: (dir: string, data: string) => void;
}

export interface ThrowawayCluster {
  /** The cluster's directory (its data directory is `data` in it): the test may keep its own files there. */
  dir: string;
  port: number;
  /** Stops the server (immediate) and deletes the directory. */
  stop(): void;
}

export async function startThrowawayCluster(options: ThrowawayClusterOptions): Promise<ThrowawayCluster> {
  const dir = mkdtempSync(join('/tmp', options.prefix));
  const data = join(dir, 'data');
  const stop = (): void => {
    try {
      asPostgres('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']);
    } catch {
      // not started, or already stopped
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    chownSync(dir, postgresUid(), -1);
    const port = await freeLoopbackPort();
    asPostgres('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '--no-instructions']);
    options.configure?.(dir, data);
    const settings = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off${options.settings === undefined ? '' : ` ${options.settings(dir)}`}`;
    asPostgres('pg_ctl', ['-D', data, '-l', join(dir, options.logFile), '-w', '-t', String(options.startTimeoutS), 'start', '-o', settings]);
    return { dir, port, stop };
  } catch (e) {
    stop();
    throw e;
  }
}
