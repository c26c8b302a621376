// The bench's audit-durability part alone (gateway/src/bench/audit-durability.ts): pgbench -S
// through in-process gateways that differ only in their audit sink (durable, unsynced, none), in
// rotating rounds. Usage: node --import tsx scripts/bench-audit.ts [--clients 8] [--seconds 5]
//   [--rounds 2] [--mode prepared] [--upstream URL] [--dir DIR (where the audit files go)]
//   [--settings durable,unsynced,none (which gateways run)]. Prints each run's TPS and the CPU time
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
import { discardingAuditSink, measureAuditDurability, renderAuditDurability, type AuditSetting } from '../gateway/src/bench/audit-durability.ts';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '8' },
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '2' },
    mode: { type: 'string', default: 'prepared' },
    upstream: { type: 'string', default: DEFAULT_BENCH_URL },
    dir: { type: 'string', default: os.tmpdir() },
    settings: { type: 'string', default: 'durable,unsynced,none' },
  },
});
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const clients = Number(values.clients);
const settings = values.settings.split(',').map((s) => s.trim()) as AuditSetting[];
const upstream = new URL(values.upstream);
const database = decodeURIComponent(upstream.pathname.replace(/^\//, '')) || 'gatehouse_bench';
await ensureDatabase(values.upstream, database);
await initialisePgbench(values.upstream, 1);
const workDir = await mkdtemp(path.join(values.dir, 'gatehouse-bench-audit-'));
const gateways: RunningGateway[] = [];
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
  const urls: Partial<Record<AuditSetting, string>> = {};
  if (settings.includes('durable')) urls.durable = await start({ file: path.join(workDir, 'durable.ndjson') });
  if (settings.includes('unsynced')) urls.unsynced = await start({ file: path.join(workDir, 'unsynced.ndjson'), fsync: false });
  if (settings.includes('none')) urls.none = await start({ file: path.join(workDir, 'unused.ndjson') }, true);
  const cpuPerTransaction = new Map<string, number>();
  const timing = await measureAuditDurability({
    mode: values.mode,
    seconds: Number(values.seconds),
    rounds: Number(values.rounds),
    settings,
    run: async (setting, mode, seconds) => {
      const cpuBefore = process.cpuUsage();
      const args = ['-S', '-n', '-T', String(seconds), '-c', String(clients), '-j', String(Math.min(2, clients)), '-M', mode, urls[setting]];
      const run = await runPgbench({ args, env: { ...process.env, PGPASSWORD: token }, killAfterMs: (seconds + 60) * 1000 });
      const cpu = process.cpuUsage(cpuBefore);
      const transactions = run.summary?.transactions ?? 0;
      if (transactions > 0) cpuPerTransaction.set(setting, (cpu.user + cpu.system) / transactions);
      return { summary: run.summary, exitCode: run.exitCode, error: run.error };
    },
    onRun: (r) =>
      process.stdout.write(
        `${r.setting} round ${r.round + 1}: ${r.result.summary?.tps.toFixed(0) ?? 'failed'} tps, ${r.result.summary?.latencyAverageMs.toFixed(3) ?? '-'} ms, ` +
          `gateway CPU ${cpuPerTransaction.get(r.setting)?.toFixed(1) ?? '-'} µs/transaction, load ${os.loadavg()[0]!.toFixed(1)}\n`,
      ),
  });
  process.stdout.write(`clients ${clients}\n${renderAuditDurability(timing).join('\n')}\n`);
} finally {
  for (const g of gateways) await g.close().catch(() => undefined);
  await rm(workDir, { recursive: true, force: true });
}
