// Summarises a V8 CPU profile (`node --cpu-prof`) of a `gatehouse serve` process driven by pgbench:
// over the busiest --window seconds (the pgbench run, not start-up or shutdown), sampled time per
// transaction by the nearest gateway/src module up the stack, by the kind of leaf frame, and the top
// functions. Method and findings: docs/benchmarks.md, "Profiling the data path".
// Usage: node --import tsx scripts/cpu-profile-summary.ts <file.cpuprofile> --transactions N [--window 20] [--top 25]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { transactions: { type: 'string' }, window: { type: 'string', default: '20' }, top: { type: 'string', default: '25' } },
});
const file = positionals[0];
const transactions = Number(values.transactions);
if (file === undefined || !(transactions > 0)) {
  process.stderr.write('usage: scripts/cpu-profile-summary.ts <file.cpuprofile> --transactions N [--window 20] [--top 25]\n');
  process.exit(2);
}
const windowMicros = Number(values.window) * 1e6;
const top = Number(values.top);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const idle = (id: number): boolean => byId.get(id)!.callFrame.functionName === '(idle)';

// The busiest window: the most non-idle sampled time within windowMicros.
const at: number[] = [];
let t = profile.startTime;
for (const delta of profile.timeDeltas) at.push((t += delta));
let best = { busy: -1, from: 0, to: -1 };
let busy = 0;
for (let i = 0, j = 0; i < at.length; i++) {
  if (!idle(profile.samples[i]!)) busy += profile.timeDeltas[i]!;
  while (at[i]! - at[j]! > windowMicros) {
    if (!idle(profile.samples[j]!)) busy -= profile.timeDeltas[j]!;
    j++;
  }
  if (busy > best.busy) best = { busy, from: j, to: i };
}

const SRC = 'gateway/src/';
function leafKind(n: ProfileNode): string {
  const { functionName: f, url: u } = n.callFrame;
  if (f === '(garbage collector)') return 'GC';
  if (f === '(program)') return '(program: native, unattributed)';
  if (u.includes('libpg-query')) return 'libpg-query (JS glue)';
  if (u.startsWith('wasm://')) return 'WebAssembly (libpg-query or OPA)';
  if (u.includes(SRC)) return SRC + u.split(SRC)[1]!.split('/')[0];
  if (u.startsWith('node:')) return u.replace(/^node:(internal\/)?/, 'node:');
  if (u === '') return `native: ${f}`;
  const pkg = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(u);
  return pkg ? `npm: ${pkg[1]}` : u;
}
function owner(id: number): string {
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const u = byId.get(cur)!.callFrame.url;
    if (u.includes(SRC)) return u.split(SRC)[1]!;
  }
  const f = byId.get(id)!.callFrame.functionName;
  return f.startsWith('(') ? f : '(no gateway/src frame)';
}

const tallies = { owner: new Map<string, number>(), leaf: new Map<string, number>(), fn: new Map<string, number>() };
const add = (m: Map<string, number>, k: string, us: number): void => void m.set(k, (m.get(k) ?? 0) + us);
let total = 0;
for (let i = best.from; i <= best.to; i++) {
  const id = profile.samples[i]!;
  if (idle(id)) continue;
  const us = profile.timeDeltas[i]!;
  const n = byId.get(id)!;
  total += us;
  add(tallies.owner, owner(id), us);
  add(tallies.leaf, leafKind(n), us);
  add(tallies.fn, `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/.*gateway\/src\//, '').replace(/.*node_modules\//, '')}`, us);
}
const print = (title: string, m: Map<string, number>): void => {
  process.stdout.write(`\n${title}\n`);
  for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    process.stdout.write(`${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / transactions).toFixed(1).padStart(7)} µs/tx  ${k}\n`);
  }
};
process.stdout.write(`${file}: ${(total / 1e6).toFixed(2)} s sampled busy in the busiest ${values.window} s, ${(total / transactions).toFixed(1)} µs per transaction on this thread\n`);
print('by nearest gateway/src module up the stack', tallies.owner);
print('by leaf frame', tallies.leaf);
print('top functions (self time)', tallies.fn);
