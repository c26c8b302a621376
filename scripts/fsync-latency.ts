// fdatasync latency and kernel CPU of audit-sized writes, by file kind and flush method, rounds
// interleaved: appending to a growing file (write + fdatasync, or one O_DSYNC write), overwriting
// space preallocated with zeros (audit.preallocate_bytes; pwrite + fdatasync, or one O_DSYNC pwrite),
// appending into space reserved past the end with `fallocate --keep-size` (util-linux; no zeros seen
// by readers), and, with --in-flight N, N write+fdatasync loops overlapping on one appending file
// through the threadpool (what overlapped group-commit flushes would do). Usage:
//   node --import tsx scripts/fsync-latency.ts [--dir DIR (on the disk to measure)] [--writes 2000] [--rounds 3]
//     [--modes append,append-dsync,preallocated,preallocated-dsync,keep-size] [--in-flight 2] [--record-bytes 400]
// (--record-bytes 4096: a batch of a few statement records, what one group-commit flush writes at c=8.)
import { execFileSync } from 'node:child_process';
import { closeSync, constants, fdatasync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';

const MODES = ['append', 'append-dsync', 'preallocated', 'preallocated-dsync', 'keep-size'] as const;
type Mode = (typeof MODES)[number];

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: process.cwd() },
    writes: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '3' },
    modes: { type: 'string', default: MODES.join(',') },
    'in-flight': { type: 'string', default: '0' },
    'record-bytes': { type: 'string', default: '400' },
  },
});
const writes = Number(values.writes);
const inFlight = Number(values['in-flight']);
const modes = values.modes.split(',').map((m) => m.trim()) as Mode[];
for (const m of modes) if (!(MODES as readonly string[]).includes(m)) throw new Error(`--modes: ${m} is not one of ${MODES.join(', ')}`);
const record = Buffer.alloc(Math.max(2, Number(values['record-bytes'])), 0x61);
record[record.length - 1] = 0x0a;
const dir = mkdtempSync(path.join(values.dir, 'gatehouse-fsync-'));
const fdatasyncAsync = promisify(fdatasync);

function report(label: string, latencies: number[], systemMicros: number, flushes: number, wallMicros: number): void {
  latencies.sort((a, b) => a - b);
  const q = (p: number): string => latencies[Math.floor(p * (latencies.length - 1))]!.toFixed(0);
  process.stdout.write(
    `${label.padEnd(20)} flush µs p10 ${q(0.1)} p50 ${q(0.5)} p90 ${q(0.9)} p99 ${q(0.99)} max ${q(1)}; kernel CPU per flush ${(systemMicros / flushes).toFixed(1)} µs; ` +
      `${((flushes / wallMicros) * 1e6).toFixed(0)} flushes/s; load ${os.loadavg()[0]!.toFixed(1)}\n`,
  );
}

/** One write (and flush) per record; the latency timed covers what a waiting statement would wait for. */
function run(mode: Mode): void {
  const file = path.join(dir, mode);
  const dsync = mode.endsWith('-dsync') ? constants.O_DSYNC : 0;
  const positioned = mode.startsWith('preallocated');
  const flags = (positioned ? constants.O_RDWR : constants.O_WRONLY | constants.O_APPEND) | constants.O_CREAT | dsync;
  if (mode === 'keep-size') writeFileSync(file, '');
  if (mode === 'keep-size') execFileSync('fallocate', ['--keep-size', '--length', String(writes * record.length + 4096), file]);
  const fd = openSync(file, flags, 0o600);
  if (positioned) {
    writeSync(fd, Buffer.alloc(writes * record.length + 4096), 0, writes * record.length + 4096, 0);
    fdatasyncSync(fd);
  }
  const latencies: number[] = [];
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  for (let i = 0; i < writes; i++) {
    const t = process.hrtime.bigint();
    if (positioned) writeSync(fd, record, 0, record.length, i * record.length);
    else writeSync(fd, record);
    if (dsync === 0) fdatasyncSync(fd);
    latencies.push(Number(process.hrtime.bigint() - t) / 1000);
  }
  const wall = Number(process.hrtime.bigint() - start) / 1000;
  const used = process.cpuUsage(cpu);
  closeSync(fd);
  rmSync(file);
  report(mode, latencies, used.system, writes, wall);
}

/** `n` loops of write + fdatasync (threadpool) on one appending file, overlapping. */
async function overlapped(n: number): Promise<void> {
  const file = path.join(dir, `in-flight-${n}`);
  const fd = openSync(file, 'a', 0o600);
  const latencies: number[] = [];
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  let left = writes;
  const loop = async (): Promise<void> => {
    while (left-- > 0) {
      const t = process.hrtime.bigint();
      writeSync(fd, record);
      await fdatasyncAsync(fd);
      latencies.push(Number(process.hrtime.bigint() - t) / 1000);
    }
  };
  await Promise.all(Array.from({ length: n }, loop));
  const wall = Number(process.hrtime.bigint() - start) / 1000;
  const used = process.cpuUsage(cpu);
  closeSync(fd);
  rmSync(file);
  report(`append ${n} in flight`, latencies, used.system, latencies.length, wall);
}

try {
  for (let r = 0; r < Number(values.rounds); r++) {
    for (const mode of modes) run(mode);
    if (inFlight > 0) {
      await overlapped(1);
      await overlapped(inFlight);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
