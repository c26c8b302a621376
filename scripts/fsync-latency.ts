// fdatasync latency and kernel CPU of audit-sized writes: appending to a growing file against
// overwriting space preallocated with zeros (audit.preallocate_bytes), rounds interleaved. Usage:
//   node --import tsx scripts/fsync-latency.ts [--dir DIR (on the disk to measure)] [--writes 2000] [--rounds 3]
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { dir: { type: 'string', default: process.cwd() }, writes: { type: 'string', default: '2000' }, rounds: { type: 'string', default: '3' } } });
const writes = Number(values.writes);
const record = Buffer.alloc(400, 0x61);
record[record.length - 1] = 0x0a;
const dir = mkdtempSync(path.join(values.dir, 'gatehouse-fsync-'));

function run(mode: 'append' | 'preallocated'): void {
  const file = path.join(dir, mode);
  const fd = openSync(file, mode === 'append' ? 'a' : 'w+');
  if (mode === 'preallocated') {
    writeSync(fd, Buffer.alloc(writes * record.length + 4096));
    fdatasyncSync(fd);
  }
  const latencies: number[] = [];
  const cpu = process.cpuUsage();
  for (let i = 0; i < writes; i++) {
    if (mode === 'append') writeSync(fd, record);
    else writeSync(fd, record, 0, record.length, i * record.length);
    const t = process.hrtime.bigint();
    fdatasyncSync(fd);
    latencies.push(Number(process.hrtime.bigint() - t) / 1000);
  }
  const used = process.cpuUsage(cpu);
  closeSync(fd);
  rmSync(file);
  latencies.sort((a, b) => a - b);
  const q = (p: number): string => latencies[Math.floor(p * (latencies.length - 1))]!.toFixed(0);
  process.stdout.write(
    `${mode.padEnd(12)} fdatasync µs p50 ${q(0.5)} p90 ${q(0.9)} p99 ${q(0.99)}; kernel CPU per write+flush ${(used.system / writes).toFixed(1)} µs; load ${os.loadavg()[0]!.toFixed(1)}\n`,
  );
}

try {
  for (let r = 0; r < Number(values.rounds); r++) for (const mode of ['append', 'preallocated'] as const) run(mode);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
