// The durable audit file alone (gateway/src/audit/append-file.ts), without gateways or pgbench:
// closed-loop writers that each append a record, wait until it is durable (group commit), then
// "think" as a statement's round trip would, in rounds. Prints records per second, the wait from
// append to durable (p50, p90, p99) and this process's CPU per record. Usage:
//   node --import tsx scripts/bench-append-file.ts [--dir DIR (on the disk to measure)] [--writers 8]
//     [--think-ms 1] [--seconds 4] [--rounds 3] [--preallocate BYTES]
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { AppendFile } from '../gateway/src/audit/append-file.ts';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: os.tmpdir() },
    writers: { type: 'string', default: '8' },
    'think-ms': { type: 'string', default: '1' },
    seconds: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '3' },
    preallocate: { type: 'string', default: '0' },
  },
});
const seconds = Number(values.seconds);
const thinkMs = Number(values['think-ms']);
const record = Buffer.from(`${JSON.stringify({ pad: 'x'.repeat(380) })}\n`);
const dir = mkdtempSync(path.join(values.dir, 'gatehouse-append-bench-'));

async function round(n: number): Promise<void> {
  const file = new AppendFile(path.join(dir, `round-${n}.ndjson`), true, Number(values.preallocate));
  const waits: number[] = [];
  const end = Date.now() + seconds * 1000;
  const cpu = process.cpuUsage();
  const writer = async (): Promise<void> => {
    while (Date.now() < end) {
      const t = process.hrtime.bigint();
      file.append(record);
      await new Promise<void>((resolve, reject) => file.whenDurable((e) => (e === null ? resolve() : reject(e))));
      waits.push(Number(process.hrtime.bigint() - t) / 1000);
      await new Promise((r) => setTimeout(r, thinkMs));
    }
  };
  await Promise.all(Array.from({ length: Number(values.writers) }, writer));
  const used = process.cpuUsage(cpu);
  file.close();
  waits.sort((a, b) => a - b);
  const q = (p: number): string => waits[Math.floor(p * (waits.length - 1))]!.toFixed(0);
  process.stdout.write(
    `round ${n + 1}: ${(waits.length / seconds).toFixed(0)} records/s; wait µs p50 ${q(0.5)} p90 ${q(0.9)} p99 ${q(0.99)}; ` +
      `CPU ${((used.user + used.system) / waits.length).toFixed(0)} µs/record; load ${os.loadavg()[0]!.toFixed(1)}\n`,
  );
}

try {
  for (let n = 0; n < Number(values.rounds); n++) await round(n);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
