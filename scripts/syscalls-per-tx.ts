// System calls and CPU per pgbench -S transaction, Gatehouse against PgBouncer, per thread.
// Starts `gatehouse serve` of a checkout as a child process (as scripts/ab-serve.ts does: development
// keys, example Rego policies, audit to a file with fdatasync) and PgBouncer (as the bench does:
// session mode), then for each mode and target: a warm-up, a plain run of `pgbench -S -t N` with the
// CPU of every thread read from /proc/<pid>/task/<tid>/stat, and a second run of the same size under
// `perf trace -s -p <pid>` counting every thread's system calls. Threads are grouped by what they do:
// the main thread (tid = pid), event loops of worker_threads (they call epoll_pwait), libuv's thread
// pool (fdatasync and its completion's eventfd write), and the rest (V8's platform threads: GC,
// compilers). Method and figures: docs/benchmarks.md, "System calls per transaction".
// Usage: node --import tsx scripts/syscalls-per-tx.ts [--root .] [--modes simple,prepared] [--clients 8]
//          [--transactions 1000] [--targets gatehouse,pgbouncer] [--connect-each] [--pool N] [--database gh_syscalls]
//          [--audit '{"ring_bytes":16777216}'] [--no-trace] [--perf-record DIR] [--idle SECONDS]
//          [--node-args='--cpu-prof --cpu-prof-dir=DIR'] (node's options for the gateway, space-separated; with =)
// --audit merges settings into Gatehouse's audit section; --no-trace measures CPU only; --perf-record
// also records on-CPU samples of each target (perf record -g) into DIR; --idle measures each target with
// no client instead (CPU and calls per second).
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DEV_ALGORITHM, ensureDevKeys, mintDevToken } from '../gateway/src/auth/dev-keys.ts';
import { ensureDatabase, initialisePgbench } from '../gateway/src/bench/bench-database.ts';
import { startGatewayProcess, type GatewayProcess } from '../gateway/src/bench/gateway-process.ts';
import { runPgbench } from '../gateway/src/bench/pgbench.ts';
import { startPgbouncer, type RunningPgbouncer } from '../gateway/src/bench/pgbouncer.ts';
import { parseProcStat, ticksPerSecond } from '../gateway/src/bench/process-cpu.ts';

const { values } = parseArgs({
  options: {
    root: { type: 'string', default: '.' },
    modes: { type: 'string', default: 'simple,prepared' },
    clients: { type: 'string', default: '8' },
    transactions: { type: 'string', default: '1000' },
    targets: { type: 'string', default: 'gatehouse,pgbouncer' },
    'connect-each': { type: 'boolean', default: false },
    pool: { type: 'string' },
    database: { type: 'string', default: 'gh_syscalls' },
    server: { type: 'string', default: 'postgresql://postgres@127.0.0.1:5432' },
    'no-trace': { type: 'boolean', default: false },
    'perf-record': { type: 'string' },
    audit: { type: 'string' },
    idle: { type: 'string' },
    'node-args': { type: 'string' },
  },
});
const clients = Number(values.clients);
const perClient = Number(values.transactions);
const modes = values.modes.split(',');
const connectEach = values['connect-each'];
const upstreamUrl = `${values.server}/${values.database}?sslmode=disable`;
const pool = values.pool === undefined ? undefined : { mode: 'session', max_connections: Number(values.pool), idle_timeout_s: 2, acquire_timeout_ms: 30_000 };
const log = (line: string): void => void process.stdout.write(`${line}\n`);
const load = (): string => os.loadavg().map((x) => x.toFixed(2)).join(', ');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

type Group = 'main' | 'worker loops' | 'libuv pool' | 'other threads';
const GROUPS: readonly Group[] = ['main', 'worker loops', 'libuv pool', 'other threads'];

/** Per thread: its calls by name, from `perf trace -s`'s per-thread summary. */
function parsePerfSummary(text: string): Map<number, Map<string, number>> {
  const threads = new Map<number, Map<string, number>>();
  let current: Map<string, number> | null = null;
  for (const line of text.split('\n')) {
    const head = /^\s*\S.*\((\d+)\), \d+ events/.exec(line);
    if (head) {
      current = new Map();
      threads.set(Number(head[1]), current);
      continue;
    }
    const row = /^\s+([a-z_0-9]+)\s+(\d+)\s+\d+\s+[\d.]+/.exec(line);
    if (row && current !== null && row[1] !== 'syscall') current.set(row[1]!, (current.get(row[1]!) ?? 0) + Number(row[2]));
  }
  return threads;
}

function groupOf(pid: number, tid: number, calls: ReadonlyMap<string, number>): Group {
  if (tid === pid) return 'main';
  if (calls.has('epoll_pwait') || calls.has('epoll_wait')) return 'worker loops';
  if (calls.has('fdatasync') || calls.has('fsync') || calls.has('pwrite64') || calls.has('write')) return 'libuv pool';
  return 'other threads';
}

/** utime and stime per thread, in ticks. */
async function threadTicks(pid: number): Promise<Map<number, { user: number; system: number }>> {
  const out = new Map<number, { user: number; system: number }>();
  for (const tid of await readdir(`/proc/${pid}/task`).catch(() => [] as string[])) {
    const stat = parseProcStat(await readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8').catch(() => ''));
    if (stat !== null) out.set(Number(tid), { user: stat.utimeTicks, system: stat.stimeTicks });
  }
  return out;
}

async function procTicks(pid: number): Promise<{ user: number; system: number }> {
  const stat = parseProcStat(await readFile(`/proc/${pid}/stat`, 'utf8'));
  if (stat === null) throw new Error(`cannot read /proc/${pid}/stat`);
  return { user: stat.utimeTicks, system: stat.stimeTicks };
}

interface Target {
  name: string;
  pid: number;
  url: string;
  password: string;
}

const pgbenchArgs = (mode: string, url: string, count: { t?: number; T?: number }): string[] => [
  '-S', '-n', ...(connectEach ? ['-C'] : []),
  ...(count.t !== undefined ? ['-t', String(count.t)] : ['-T', String(count.T)]),
  '-c', String(clients), '-j', String(Math.min(2, clients)), '-M', mode, url,
];

async function pgbench(target: Target, mode: string, count: { t?: number; T?: number }): Promise<number> {
  const run = await runPgbench({ args: pgbenchArgs(mode, target.url, count), env: { ...process.env, PGPASSWORD: target.password }, killAfterMs: 600_000 });
  if (run.summary === null) throw new Error(`${target.name} ${mode}: ${run.error ?? `exit ${run.exitCode}`}`);
  if (run.summary.failedTransactions > 0) throw new Error(`${target.name} ${mode}: ${run.summary.failedTransactions} failed`);
  return run.summary.transactions;
}

async function measure(target: Target, mode: string, workDir: string): Promise<void> {
  await pgbench(target, mode, { T: 2 });
  // CPU, untraced.
  const ticksBefore = await threadTicks(target.pid);
  const procBefore = await procTicks(target.pid);
  const started = process.hrtime.bigint();
  const tx = await pgbench(target, mode, { t: perClient });
  const wallS = Number(process.hrtime.bigint() - started) / 1e9;
  const procAfter = await procTicks(target.pid);
  const ticksAfter = await threadTicks(target.pid);
  const us = (ticks: number): number => (ticks * 1e6) / ticksPerSecond() / tx;
  const user = us(procAfter.user - procBefore.user);
  const system = us(procAfter.system - procBefore.system);
  log(`${target.name} ${mode}: ${tx} tx in ${wallS.toFixed(1)} s (${(tx / wallS).toFixed(0)} tps), CPU ${(user + system).toFixed(1)} µs/tx (user ${user.toFixed(1)}, system ${system.toFixed(1)}), load ${load()}`);
  if (values['perf-record'] !== undefined) {
    // On-CPU samples of every thread (perf record -g; JIT frames named when NODE_OPTIONS has --perf-basic-prof).
    const out = path.join(values['perf-record'], `${target.name}-${mode}.data`);
    const rec = spawn('perf', ['record', '-F', '999', '-g', '-p', String(target.pid), '-o', out], { stdio: 'ignore' });
    const recDone = new Promise<void>((resolve) => rec.once('exit', () => resolve()));
    await sleep(1000);
    const recTx = await pgbench(target, mode, { t: perClient });
    rec.kill('SIGINT');
    await recDone;
    log(`  perf record: ${recTx} tx, ${out}`);
  }
  if (values['no-trace']) return;
  // System calls, traced (a second run of the same size).
  const file = path.join(workDir, `${target.name}-${mode}.perf`);
  const perf = spawn('perf', ['trace', '-s', '-p', String(target.pid), '-o', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let perfErr = '';
  perf.stderr.setEncoding('utf8').on('data', (c: string) => (perfErr += c));
  const perfDone = new Promise<void>((resolve) => perf.once('exit', () => resolve()));
  await sleep(1500);
  const idleStart = Date.now();
  const tracedTx = await pgbench(target, mode, { t: perClient });
  const tracedMs = Date.now() - idleStart;
  perf.kill('SIGINT');
  await perfDone;
  const threads = parsePerfSummary(await readFile(file, 'utf8').catch(() => ''));
  if (threads.size === 0) throw new Error(`perf trace gave nothing: ${perfErr.trim()}`);
  const byGroup = new Map<Group, Map<string, number>>();
  const threadCount = new Map<Group, number>();
  const cpuByGroup = new Map<Group, { user: number; system: number }>();
  for (const [tid, calls] of threads) {
    const g = groupOf(target.pid, tid, calls);
    threadCount.set(g, (threadCount.get(g) ?? 0) + 1);
    const m = byGroup.get(g) ?? new Map<string, number>();
    for (const [name, n] of calls) m.set(name, (m.get(name) ?? 0) + n);
    byGroup.set(g, m);
    const was = cpuByGroup.get(g) ?? { user: 0, system: 0 };
    const a = ticksAfter.get(tid) ?? { user: 0, system: 0 };
    const b = ticksBefore.get(tid) ?? { user: 0, system: 0 };
    cpuByGroup.set(g, { user: was.user + a.user - b.user, system: was.system + a.system - b.system });
  }
  // Threads that made no call while traced (idle worker loops, platform threads) still count their CPU.
  for (const [tid, a] of ticksAfter) {
    if (threads.has(tid)) continue;
    const b = ticksBefore.get(tid) ?? { user: 0, system: 0 };
    if (a.user === b.user && a.system === b.system) continue;
    const was = cpuByGroup.get('other threads') ?? { user: 0, system: 0 };
    cpuByGroup.set('other threads', { user: was.user + a.user - b.user, system: was.system + a.system - b.system });
    byGroup.set('other threads', byGroup.get('other threads') ?? new Map());
    threadCount.set('other threads', (threadCount.get('other threads') ?? 0) + 1);
  }
  log(`  traced: ${tracedTx} tx in ${(tracedMs / 1000).toFixed(1)} s (+1.5 s idle before), calls per transaction by thread group:`);
  for (const g of GROUPS) {
    const m = byGroup.get(g);
    if (m === undefined) continue;
    const total = [...m.values()].reduce((a, b) => a + b, 0);
    const rows = [...m].filter(([, n]) => n / tracedTx >= 0.005).sort((a, b) => b[1] - a[1]).map(([name, n]) => `${name} ${(n / tracedTx).toFixed(2)}`);
    const cpu = cpuByGroup.get(g) ?? { user: 0, system: 0 };
    log(`  ${g} (${threadCount.get(g)} threads, untraced CPU µs/tx user ${us(cpu.user).toFixed(1)} system ${us(cpu.system).toFixed(1)}): ${(total / tracedTx).toFixed(2)} calls/tx: ${rows.join(', ')}`);
  }
}

/** CPU and system calls per second of a target with no client (timers, polls): what a run divides among its transactions. */
async function measureIdle(target: Target, seconds: number, workDir: string): Promise<void> {
  const before = await procTicks(target.pid);
  await sleep(seconds * 1000);
  const after = await procTicks(target.pid);
  const ms = (ticks: number): number => (ticks * 1e3) / ticksPerSecond() / seconds;
  log(`${target.name} idle: CPU ${ms(after.user - before.user + after.system - before.system).toFixed(1)} ms per second (user ${ms(after.user - before.user).toFixed(1)}, system ${ms(after.system - before.system).toFixed(1)}) over ${seconds} s, load ${load()}`);
  if (values['no-trace']) return;
  const file = path.join(workDir, `${target.name}-idle.perf`);
  const perf = spawn('perf', ['trace', '-s', '-p', String(target.pid), '-o', file], { stdio: 'ignore' });
  const perfDone = new Promise<void>((resolve) => perf.once('exit', () => resolve()));
  await sleep(seconds * 1000);
  perf.kill('SIGINT');
  await perfDone;
  for (const [tid, calls] of parsePerfSummary(await readFile(file, 'utf8').catch(() => ''))) {
    const rows = [...calls].sort((a, b) => b[1] - a[1]).map(([name, n]) => `${name} ${(n / seconds).toFixed(1)}`);
    log(`  thread ${tid} (${groupOf(target.pid, tid, calls)}): calls per second: ${rows.join(', ')}`);
  }
}

const workDir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-syscalls-'));
let gateway: GatewayProcess | null = null;
let bouncer: RunningPgbouncer | null = null;
try {
  if (await ensureDatabase(upstreamUrl, values.database)) await initialisePgbench(upstreamUrl, 1);
  const targets: Target[] = [];
  for (const name of values.targets.split(',')) {
    if (name === 'gatehouse') {
      const root = path.resolve(values.root);
      const keyDir = path.join(workDir, 'keys');
      const keys = await ensureDevKeys(keyDir);
      const token = await mintDevToken({ keyDir, subject: 'bench', groups: ['bench'], ttlSeconds: 4 * 3600 });
      const dir = path.join(workDir, 'gatehouse');
      await mkdir(dir);
      gateway = await startGatewayProcess({
        repoRoot: root,
        workDir: dir,
        nodeArgs: values['node-args']?.split(' ').filter((a) => a !== ''),
        config: {
          listen: { host: '127.0.0.1', port: 0 },
          tls: { mode: 'disable' },
          auth: { issuer: keys.issuer, audience: keys.audience, algorithms: [DEV_ALGORITHM], jwks: { file: keys.jwksPath }, plaintext_password: 'loopback' },
          upstream: { url: upstreamUrl, pass_database: false, ...(pool === undefined ? {} : { pool }) },
          policies: { engine: 'rego', directory: path.join(root, 'policies', 'rego') },
          audit: { file: path.join(dir, 'audit.ndjson'), ...(values.audit === undefined ? {} : (JSON.parse(values.audit) as Record<string, unknown>)) },
        },
      });
      targets.push({ name, pid: gateway.pid, url: `postgresql://bench@127.0.0.1:${gateway.port}/${values.database}?sslmode=disable`, password: token });
    } else if (name === 'pgbouncer') {
      bouncer = await startPgbouncer({ upstreamUrl, database: values.database, poolSize: clients, maxClients: clients + 20, repoRoot: path.resolve(values.root), onProgress: () => {} });
      targets.push({ name, pid: bouncer.pid, url: bouncer.url, password: bouncer.password });
    } else throw new Error(`unknown target ${name}`);
  }
  await sleep(2000);
  log(`pgbench -S -n${connectEach ? ' -C' : ''} -t ${perClient} -c ${clients} -j ${Math.min(2, clients)}; load average ${load()} at start`);
  if (values.idle !== undefined) for (const target of targets) await measureIdle(target, Number(values.idle), workDir);
  else for (const mode of modes) for (const target of targets) await measure(target, mode, workDir);
  log(`load average ${load()} at end`);
} finally {
  await gateway?.stop();
  await bouncer?.stop();
  await rm(workDir, { recursive: true, force: true });
}
