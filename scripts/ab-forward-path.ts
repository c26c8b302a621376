// A/B, in one process, of the forward path's per-message work as two checkouts do it: a received chunk
// framed (wire/framer.ts), each message's column count read as the relay reads a DataRow's, and the
// messages queued unchanged for the client (pg/output-batch.ts), for a pgbench -S reply and for 1,000
// DataRows. Rounds alternate A and B; prints the median CPU ns (process user + system) per chunk.
// Usage: node --import tsx scripts/ab-forward-path.ts --a /path/to/baseline --b /path/to/branch [--rounds 7]
import path from 'node:path';
import { parseArgs } from 'node:util';
import { alternatingRounds, median } from './ab-rounds.ts';

const { values } = parseArgs({ options: { a: { type: 'string' }, b: { type: 'string' }, rounds: { type: 'string', default: '7' } } });
if (values.a === undefined || values.b === undefined) throw new Error('usage: --a <checkout> --b <checkout> [--rounds N]');

function message(type: string, body: Buffer): Buffer {
  const out = Buffer.alloc(5 + body.length);
  out[0] = type.charCodeAt(0);
  out.writeInt32BE(4 + body.length, 1);
  body.copy(out, 5);
  return out;
}
const row = message('D', Buffer.concat([Buffer.from([0, 1, 0, 0, 0, 4]), Buffer.from('1234')]));
const pgbenchReply = Buffer.concat([message('T', Buffer.alloc(27, 1)), row, message('C', Buffer.from('SELECT 1\0')), message('Z', Buffer.from('I'))]);
const bigResult = Buffer.concat(Array.from({ length: 1000 }, () => row));

async function pathOf(root: string): Promise<(chunk: Buffer) => number> {
  const framing = await import(path.join(path.resolve(root), 'gateway/src/wire/framer.ts'));
  const { OutputBatch } = await import(path.join(path.resolve(root), 'gateway/src/pg/output-batch.ts'));
  const framer = new framing.MessageFramer(1 << 30);
  const out = new OutputBatch();
  // Checkouts before payloadInt16 read the count from the body view and pass pushSlice the message's view first.
  const count = typeof framing.payloadInt16 === 'function' ? (f: any): number => framing.payloadInt16(f, 0) ?? -1 : (f: any): number => (f.body.length >= 2 ? f.body.readInt16BE(0) : -1);
  return (received: Buffer) => {
    framer.push(Buffer.from(received)); // a fresh chunk per read, as a socket hands them out
    let columns = 0;
    for (let f = framer.next(); f; f = framer.next()) {
      if (f.type === 0x44) columns += count(f);
      if (f.size !== undefined) out.pushSlice(f.chunk, f.at, f.size);
      else out.pushSlice(f.raw, f.chunk, f.at);
    }
    out.take();
    return columns;
  };
}

const runs = { A: await pathOf(values.a), B: await pathOf(values.b) };
for (const [name, chunk, n] of [['pgbench -S reply (4 messages)', pgbenchReply, 200_000], ['1,000 DataRows', bigResult, 400]] as const) {
  const times = alternatingRounds({ A: () => runs.A(chunk), B: () => runs.B(chunk) }, Number(values.rounds), n, n / 10);
  for (const side of ['A', 'B'] as const) times[side] = times[side].map((us) => us * 1000); // ns per chunk
  const f = (xs: number[]): string => xs.map((x) => x.toFixed(0)).join(', ');
  console.log(`${name}: A median ${median(times.A).toFixed(0)} ns (${f(times.A)}), B median ${median(times.B).toFixed(0)} ns (${f(times.B)}) per chunk; B/A ${(median(times.B) / median(times.A)).toFixed(2)}`);
}
