// A/B of CPU per statement: `gatehouse serve` of two checkouts (A, the baseline, and B) as child
// processes in front of the same pgbench database, `pgbench -S` through each in turn (the order
// alternates every round), CPU from /proc/<pid>/stat over each run divided by its transactions.
// Prints every run and, per mode, the medians and B/A, with the load average at start and end.
// Usage: node --import tsx scripts/ab-serve.ts --a /path/to/baseline --b /path/to/branch \
//          [--rounds 3] [--seconds 10] [--clients 8] [--modes simple,extended,prepared] [--database gatehouse_ab]
//          [--connect-each] [--pool N] [--parallel] [--groups bench,...] [--rego-extra file.rego]
//          [--a-env NAME=VALUE ...] [--b-env NAME=VALUE ...]
// --connect-each runs `pgbench -C` (a new connection per transaction); --pool N gives both gateways
// `upstream.pool` as the bench's pooled Gatehouse has it (session mode, N connections). --parallel
// runs A's and B's pgbench at the same time (each with --clients), so that both see the same
// machine load: on a busy shared machine sequential runs differ more than the two checkouts do.
// --groups: the token's groups (default bench); --rego-extra: a Rego file added to a copy of each
// checkout's example policies (a mask on a pgbench column, say, for a group named in --groups).
// --a-env / --b-env NAME=VALUE (repeatable): set for that side's gateway process only, over this
// process's environment, e.g. `--a /work/main --b /work/main --b-env MALLOC_ARENA_MAX=2` compares one
// tree with and without a glibc malloc setting (glibc reads them only when a process starts). Both
// sides get the `gatehouse` executable's malloc thresholds (build/malloc-defaults.ts) unless their
// environment sets its own or GATEHOUSE_MALLOC_DEFAULTS=0 (e.g. --a-env GATEHOUSE_MALLOC_DEFAULTS=0: A without).
import { copyFile, cp, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DEV_ALGORITHM, ensureDevKeys, mintDevToken } from '../gateway/src/auth/dev-keys.ts';
import { ensureDatabase, initialisePgbench } from '../gateway/src/bench/bench-database.ts';
import { startGatewayProcess, type GatewayProcess } from '../gateway/src/bench/gateway-process.ts';
import { runPgbench } from '../gateway/src/bench/pgbench.ts';
import { pgbenchArgs } from '../gateway/src/bench/pgbench-comparison.ts';
import { readProcStat, ticksPerSecond } from '../gateway/src/bench/process-cpu.ts';
import { parseEnvAssignments } from '../gateway/src/bench/env-assignments.ts';
import type { QueryMode } from '../gateway/src/bench/bench-results.ts';

const { values } = parseArgs({
  options: {
    a: { type: 'string' },
    b: { type: 'string' },
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    clients: { type: 'string', default: '8' },
    modes: { type: 'string', default: 'simple,extended,prepared' },
    'connect-each': { type: 'boolean', default: false },
    pool: { type: 'string' },
    parallel: { type: 'boolean', default: false },
    groups: { type: 'string', default: 'bench' },
    'rego-extra': { type: 'string' },
    'a-env': { type: 'string', multiple: true, default: [] },
    'b-env': { type: 'string', multiple: true, default: [] },
    help: { type: 'boolean', default: false },
    database: { type: 'string', default: 'gatehouse_ab' },
    server: { type: 'string', default: 'postgresql://postgres@127.0.0.1:5432' },
  },
});
if (values.help || values.a === undefined || values.b === undefined) {
  process.stderr.write(
    [
      'usage: scripts/ab-serve.ts --a <baseline checkout> --b <branch checkout> [options]',
      '  --rounds N (3)  --seconds S (10)  --warmup S (3)  --clients N (8)  --modes simple,extended,prepared',
      '  --parallel            run A and B at the same time (same machine load for both)',
      '  --connect-each        pgbench -C: a new connection per transaction',
      '  --pool N              upstream.pool (session mode, N connections) for both gateways',
      '  --groups a,b          the token\'s groups (bench)   --rego-extra file.rego   --database gatehouse_ab',
      '  --a-env NAME=VALUE    set for A\'s gateway process only (repeatable), e.g. MALLOC_ARENA_MAX=2',
      '  --b-env NAME=VALUE    set for B\'s gateway process only (repeatable)',
      '                        both get the executable\'s glibc malloc thresholds unless set or GATEHOUSE_MALLOC_DEFAULTS=0',
      '',
    ].join('\n'),
  );
  process.exit(values.help ? 0 : 2);
}
const sideEnv = { A: parseEnvAssignments(values['a-env']), B: parseEnvAssignments(values['b-env']) } as const;
const roots = { A: path.resolve(values.a), B: path.resolve(values.b) } as const;
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const clients = Number(values.clients);
const modes = values.modes.split(',') as QueryMode[];
const upstreamUrl = `${values.server}/${values.database}?sslmode=disable`;
const connectEach = values['connect-each'];
const pool = values.pool === undefined ? undefined : { mode: 'session', max_connections: Number(values.pool), idle_timeout_s: 2, acquire_timeout_ms: 30_000 };

const median = (xs: number[]): number => {
  const s = [...xs].sort((x, y) => x - y);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const load = (): string => os.loadavg().map((x) => x.toFixed(2)).join(', ');
const log = (line: string): void => void process.stdout.write(`${line}\n`);

const workDir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-ab-'));
const gateways: Partial<Record<'A' | 'B', GatewayProcess>> = {};
try {
  if (await ensureDatabase(upstreamUrl, values.database)) await initialisePgbench(upstreamUrl, 1);
  const keyDir = path.join(workDir, 'keys');
  const keys = await ensureDevKeys(keyDir);
  const token = await mintDevToken({ keyDir, subject: 'bench', groups: values.groups.split(','), ttlSeconds: 4 * 3600 });
  for (const side of ['A', 'B'] as const) {
    const dir = path.join(workDir, side);
    await import('node:fs/promises').then((fs) => fs.mkdir(dir));
    let policies = path.join(roots[side], 'policies', 'rego');
    if (values['rego-extra'] !== undefined) {
      await cp(policies, path.join(dir, 'rego'), { recursive: true });
      policies = path.join(dir, 'rego');
      await copyFile(values['rego-extra'], path.join(policies, path.basename(values['rego-extra'])));
    }
    gateways[side] = await startGatewayProcess({
      repoRoot: roots[side],
      workDir: dir,
      env: sideEnv[side],
      config: {
        listen: { host: '127.0.0.1', port: 0 },
        tls: { mode: 'disable' },
        auth: { issuer: keys.issuer, audience: keys.audience, algorithms: [DEV_ALGORITHM], jwks: { file: keys.jwksPath }, plaintext_password: 'loopback' },
        upstream: { url: upstreamUrl, pass_database: false, ...(pool === undefined ? {} : { pool }) },
        policies: { engine: 'rego', directory: policies },
        audit: { file: path.join(dir, 'audit.ndjson') },
      },
    });
    const envText = Object.entries(sideEnv[side]).map(([k, v]) => `${k}=${v}`).join(' ');
    log(`${side}: ${roots[side]}${envText === '' ? '' : ` with ${envText}`} pid ${gateways[side]!.pid} port ${gateways[side]!.port}`);
  }
  await new Promise((r) => setTimeout(r, 2000));
  for (const side of ['A', 'B'] as const) log(`${side}: idle RSS ${(((await gateways[side]!.rssBytes()) ?? 0) / 2 ** 20).toFixed(0)} MB`);
  const startLoad = load();
  const cpu: Record<string, number[]> = {};
  const tps: Record<string, number[]> = {};
  const runOnce = async (side: 'A' | 'B', mode: QueryMode, runSeconds: number, record: boolean): Promise<void> => {
    const gw = gateways[side]!;
    const url = `postgresql://bench@127.0.0.1:${gw.port}/${values.database}?sslmode=disable`;
    const before = await readProcStat(gw.pid);
    const run = await runPgbench({ args: pgbenchArgs({ clients, mode, seconds: runSeconds, connectEach }, url), env: { ...process.env, PGPASSWORD: token }, killAfterMs: (runSeconds + 60) * 1000 });
    const after = await readProcStat(gw.pid);
    if (run.summary === null || before === null || after === null) throw new Error(`${side} ${mode}: ${run.error ?? `exit ${run.exitCode}`}`);
    if (run.summary.failedTransactions > 0) throw new Error(`${side} ${mode}: ${run.summary.failedTransactions} failed transactions`);
    const tx = run.summary.transactions;
    const micros = (ticks: number): number => (ticks * 1e6) / ticksPerSecond() / tx;
    const user = micros(after.utimeTicks - before.utimeTicks);
    const perTx = user + micros(after.stimeTicks - before.stimeTicks);
    if (!record) return;
    (cpu[`${side} ${mode}`] ??= []).push(perTx);
    (cpu[`${side} ${mode} user`] ??= []).push(user);
    (tps[`${side} ${mode}`] ??= []).push(run.summary.tps);
    log(`  ${side} ${mode}: ${run.summary.tps.toFixed(0)} tps, ${perTx.toFixed(1)} µs CPU/tx (user ${user.toFixed(1)}) (load ${load()})`);
  };
  for (const mode of modes) for (const side of ['A', 'B'] as const) await runOnce(side, mode, Number(values.warmup), false);
  for (let round = 0; round < rounds; round += 1) {
    log(`round ${round + 1}`);
    const order = round % 2 === 0 ? (['A', 'B'] as const) : (['B', 'A'] as const);
    for (const mode of modes) {
      if (values.parallel) await Promise.all(order.map((side) => runOnce(side, mode, seconds, true)));
      else for (const side of order) await runOnce(side, mode, seconds, true);
    }
  }
  log(`\n${values.parallel ? 'A and B at the same time, each ' : ''}pgbench -S -n${connectEach ? ' -C' : ''}${pool === undefined ? '' : ` (upstream.pool ${pool.max_connections})`} -T ${seconds} -c ${clients} -j ${Math.min(2, clients)} -M <mode>, ${rounds} alternating rounds; load average ${startLoad} at start, ${load()} at end`);
  log('| mode | A CPU µs/tx (median; runs) | B CPU µs/tx (median; runs) | B/A | A user µs/tx | B user µs/tx | user B/A | A tps | B tps |');
  log('|---|---|---|---:|---|---|---:|---:|---:|');
  for (const mode of modes) {
    const a = cpu[`A ${mode}`]!;
    const b = cpu[`B ${mode}`]!;
    const f = (xs: number[]): string => `${median(xs).toFixed(0)} (${xs.map((x) => x.toFixed(0)).join(', ')})`;
    const au = cpu[`A ${mode} user`]!;
    const bu = cpu[`B ${mode} user`]!;
    log(
      `| ${mode} | ${f(a)} | ${f(b)} | ${(median(b) / median(a)).toFixed(2)} | ${f(au)} | ${f(bu)} | ${(median(bu) / median(au)).toFixed(2)} | ${median(tps[`A ${mode}`]!).toFixed(0)} | ${median(tps[`B ${mode}`]!).toFixed(0)} |`,
    );
  }
  for (const side of ['A', 'B'] as const) log(`${side}: RSS after the runs ${(((await gateways[side]!.rssBytes()) ?? 0) / 2 ** 20).toFixed(0)} MB`);
} finally {
  for (const gw of Object.values(gateways)) await gw.stop();
  await rm(workDir, { recursive: true, force: true });
}
