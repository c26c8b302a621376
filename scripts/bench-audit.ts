// The bench's audit-durability part alone (gateway/src/bench/audit-durability.ts): pgbench -S
// through in-process gateways that differ only in their audit sink (durable, unsynced, none, and
// with --postgres-sink the PostgreSQL audit table), in rotating rounds. Usage:
//   node --import tsx scripts/bench-audit.ts [--clients 8] [--seconds 5] [--rounds 2] [--mode prepared]
//   [--upstream URL] [--dir DIR (where the audit files go)] [--postgres-sink URL (the database for the
//   audit table: a throwaway table is created there and dropped)] [--settings durable,unsynced,none
//   (which file/none gateways run)] [--preallocate BYTES (one more durable gateway, its file
//   preallocated: audit.preallocate_bytes)] [--trace (per durable run: flushes, statements per flush,
//   flush time, wait until durable, and for every run the event loop's busy share and delay: scripts/flush-trace.ts)] [--appends (one more durable gateway
//   without the write-ahead ring: audit.ring_bytes 0)] [--ring BYTES (the durable gateway's ring size)]. Prints each run's TPS and the CPU time
//   this process (the gateways) spent per transaction; run it under `node --cpu-prof` to profile.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { DEV_ALGORITHM, ensureDevKeys, mintDevToken } from '../gateway/src/auth/dev-keys.ts';
import { configFromObject } from '../gateway/src/config/load.ts';
import { startGateway, type RunningGateway } from '../gateway/src/server.ts';
import { DEFAULT_BENCH_URL, ensureDatabase, initialisePgbench } from '../gateway/src/bench/bench-database.ts';
import { runPgbench } from '../gateway/src/bench/pgbench.ts';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { installFlushTrace, takeFlushTrace, takeLoopTrace } from './flush-trace.ts';
import { AUDIT_SETTINGS, discardingAuditSink, measureAuditDurability, renderAuditDurability, type AnyAuditSetting } from '../gateway/src/bench/audit-durability.ts';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '8' },
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '2' },
    mode: { type: 'string', default: 'prepared' },
    upstream: { type: 'string', default: DEFAULT_BENCH_URL },
    dir: { type: 'string', default: os.tmpdir() },
    'postgres-sink': { type: 'string' },
    settings: { type: 'string', default: 'durable,unsynced,none' },
    preallocate: { type: 'string' },
    appends: { type: 'boolean', default: false },
    ring: { type: 'string' },
    trace: { type: 'boolean', default: false },
  },
});
if (values.trace) installFlushTrace();
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const clients = Number(values.clients);
const fileSettings = values.settings.split(',').map((s) => s.trim());
for (const s of fileSettings) if (!(AUDIT_SETTINGS as readonly string[]).includes(s)) throw new Error(`--settings: ${s} is not one of ${AUDIT_SETTINGS.join(', ')}`);
const chosen = AUDIT_SETTINGS.filter((s) => fileSettings.includes(s));
const upstream = new URL(values.upstream);
const database = decodeURIComponent(upstream.pathname.replace(/^\//, '')) || 'gatehouse_bench';
await ensureDatabase(values.upstream, database);
await initialisePgbench(values.upstream, 1);
const workDir = await mkdtemp(path.join(values.dir, 'gatehouse-bench-audit-'));
const gateways: RunningGateway[] = [];
const sinkUrl = values['postgres-sink'];
const sinkTable = `gatehouse_bench.audit_${randomBytes(4).toString('hex')}`;
try {
  const keys = await ensureDevKeys(path.join(workDir, 'keys'));
  const token = await mintDevToken({ keyDir: path.join(workDir, 'keys'), subject: 'bench', groups: ['bench'], ttlSeconds: 3600 });
  const document = {
    listen: { host: '127.0.0.1', port: 0 },
    tls: { mode: 'disable' },
    auth: { issuer: keys.issuer, audience: keys.audience, algorithms: [DEV_ALGORITHM], jwks: { file: keys.jwksPath }, plaintext_password: 'loopback' },
    upstream: { url: values.upstream, pass_database: false },
    policies: { engine: 'rego', directory: path.join(root, 'policies', 'rego') },
  };
  const start = async (audit: Record<string, unknown>, none = false): Promise<string> => {
    const g = await startGateway(configFromObject({ ...document, audit }, workDir), none ? { audit: discardingAuditSink() } : {});
    gateways.push(g);
    return `postgresql://bench@${g.host}:${g.port}/${encodeURIComponent(database)}?sslmode=disable`;
  };
  const urls: Partial<Record<AnyAuditSetting, string>> = {};
  const ring = values.ring === undefined ? {} : { ring_bytes: Number(values.ring) };
  if (chosen.includes('durable')) urls.durable = await start({ file: path.join(workDir, 'durable.ndjson'), ...ring });
  if (values.appends) urls.appends = await start({ file: path.join(workDir, 'appends.ndjson'), ring_bytes: 0 });
  if (chosen.includes('unsynced')) urls.unsynced = await start({ file: path.join(workDir, 'unsynced.ndjson'), fsync: false });
  if (chosen.includes('none')) urls.none = await start({ file: path.join(workDir, 'unused.ndjson') }, true);
  const preallocate = values.preallocate === undefined ? null : Number(values.preallocate);
  if (preallocate !== null) urls.preallocated = await start({ file: path.join(workDir, 'preallocated.ndjson'), preallocate_bytes: preallocate });
  if (sinkUrl !== undefined) urls.postgres = await start({ sink: 'postgres', postgres_url: sinkUrl, postgres_table: sinkTable, instance: 'bench' });
  const cpuPerTransaction = new Map<string, number>();
  const timing = await measureAuditDurability<AnyAuditSetting>({
    settings: [...chosen, ...(values.appends ? (['appends'] as const) : []), ...(preallocate === null ? [] : (['preallocated'] as const)), ...(sinkUrl === undefined ? [] : (['postgres'] as const))],
    mode: values.mode,
    seconds: Number(values.seconds),
    rounds: Number(values.rounds),
    run: async (setting, mode, seconds) => {
      const cpuBefore = process.cpuUsage();
      takeFlushTrace();
      if (values.trace) takeLoopTrace();
      const args = ['-S', '-n', '-T', String(seconds), '-c', String(clients), '-j', String(Math.min(2, clients)), '-M', mode, urls[setting]!];
      const run = await runPgbench({ args, env: { ...process.env, PGPASSWORD: token }, killAfterMs: (seconds + 60) * 1000 });
      const cpu = process.cpuUsage(cpuBefore);
      const transactions = run.summary?.transactions ?? 0;
      if (transactions > 0) cpuPerTransaction.set(setting, (cpu.user + cpu.system) / transactions);
      return { summary: run.summary, exitCode: run.exitCode, error: run.error };
    },
    onRun: (r) => {
      const trace = values.trace ? [takeLoopTrace(), takeFlushTrace()].filter((t) => t !== null).join('\n') : null;
      process.stdout.write(
        `${r.setting} round ${r.round + 1}: ${r.result.summary?.tps.toFixed(0) ?? 'failed'} tps, ${r.result.summary?.latencyAverageMs.toFixed(3) ?? '-'} ms, ` +
          `gateway CPU ${cpuPerTransaction.get(r.setting)?.toFixed(1) ?? '-'} µs/transaction, load ${os.loadavg()[0]!.toFixed(1)}\n${trace === null ? '' : `${trace}\n`}`,
      );
    },
  });
  process.stdout.write(`clients ${clients}\n${renderAuditDurability(timing).join('\n')}\n`);
} finally {
  for (const g of gateways) await g.close().catch(() => undefined);
  await rm(workDir, { recursive: true, force: true });
  if (sinkUrl !== undefined) {
    const c = new pg.Client({ connectionString: sinkUrl });
    await c.connect().then(() => c.query(`DROP TABLE IF EXISTS ${sinkTable}`)).catch((e: unknown) => process.stderr.write(`could not drop ${sinkTable}: ${String(e)}\n`));
    await c.end().catch(() => undefined);
  }
}
