// The bench's memory step alone (bench/session-memory.ts: `gatehouse serve` as a child process in
// front of a private PostgreSQL, idle RSS 2 s after it listens, then N sessions), repeated, with
// where the idle RSS is: /proc/<pid>/smaps grouped by kind of mapping at the moment idle RSS is read,
// and the gateway's child processes then (their memory is not in its RSS).
// Usage: node --import tsx scripts/session-memory.ts [--root checkout] [--runs 3] [--sessions 1000] [--engine rego]
//          [--env-set 'NAME=VALUE NAME2=VALUE2' ...]
// --env-set: variables set for the gateway process, space-separated; repeat it to cycle the runs through
// several sets in turn ('' for none), e.g. --runs 6 --env-set '' --env-set 'MALLOC_ARENA_MAX=2', so
// that every setting is measured in the same sitting. The gateway gets the `gatehouse` executable's glibc
// malloc thresholds unless a set has its own or GATEHOUSE_MALLOC_DEFAULTS=0 ("without").
// Set NODE_OPTIONS=--import <probe> to have the gateway report process.memoryUsage() per thread.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { measureSessionMemory } from '../gateway/src/bench/session-memory.ts';
import { parseEnvAssignments } from '../gateway/src/bench/env-assignments.ts';

const { values } = parseArgs({
  options: {
    root: { type: 'string' },
    runs: { type: 'string', default: '3' },
    sessions: { type: 'string', default: '1000' },
    engine: { type: 'string', default: 'rego' },
    'env-set': { type: 'string', multiple: true, default: [''] },
  },
});
const repoRoot = path.resolve(values.root ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..'));
const engine = values.engine === 'cedar' ? 'cedar' : 'rego';
const envs = values['env-set'].map((set) => parseEnvAssignments(set.split(/\s+/).filter((a) => a !== '')));
const envText = (env: Record<string, string>): string => Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ') || '(no extra environment)';

/** Resident kB of a process's mappings, grouped: its binary, shared libraries, malloc's heap, big reservations (WebAssembly memories), 64 MB malloc arenas of threads, stacks, the rest of anonymous memory (V8's heaps and code, thread stacks). */
function smapsByKind(pid: number): Record<string, number> {
  const text = readFileSync(`/proc/${pid}/smaps`, 'utf8');
  const kinds: Record<string, number> = {};
  let kind = '';
  for (const line of text.split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (head) {
      const size = (parseInt(head[2]!, 16) - parseInt(head[1]!, 16)) / 1024;
      const name = head[3]!.trim();
      if (name.endsWith('/node') || name.includes('/bin/node')) kind = 'node binary';
      else if (name.includes('.so')) kind = 'shared libraries';
      else if (name === '[heap]') kind = 'malloc main heap';
      else if (name.startsWith('[stack')) kind = 'main stack';
      else if (name.startsWith('[')) kind = name;
      else if (name !== '') kind = `file ${path.basename(name)}`;
      else if (size >= 1024 * 1024) kind = 'anon >= 1 GB (WebAssembly memory reservations)';
      else if (size >= 60 * 1024 && size <= 64 * 1024) kind = 'anon ~64 MB (malloc thread arenas)';
      else kind = 'anon other (V8 heaps, code, stacks)';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss && kind !== '') kinds[kind] = (kinds[kind] ?? 0) + Number(rss[1]);
  }
  return kinds;
}

const mb = (kb: number): string => (kb / 1024).toFixed(1);
const rows: string[] = [];
for (let run = 1; run <= Number(values.runs); run++) {
  let breakdown: Record<string, number> | null = null;
  const env = envs[(run - 1) % envs.length]!;
  const result = await measureSessionMemory({
    env,
    sessions: Number(values.sessions),
    engine,
    repoRoot,
    step: (message) => {
      const m = /^Gatehouse pid (\d+): idle RSS/.exec(message);
      if (m) breakdown = smapsByKind(Number(m[1]));
      process.stdout.write(`  ${message}\n`);
    },
  });
  if (breakdown !== null) {
    const sorted = Object.entries(breakdown as Record<string, number>).filter(([, kb]) => kb >= 512).sort((a, b) => b[1] - a[1]);
    for (const [kind, kb] of sorted) process.stdout.write(`    ${mb(kb).padStart(7)} MB  ${kind}\n`);
  }
  const children = result.idleChildren ?? [];
  process.stdout.write(`    child processes at idle: ${children.length === 0 ? 'none' : children.map((c) => `${c.command} ${mb(c.rssBytes / 1024)} MB`).join(', ')}\n`);
  const line = `run ${run} ${envText(env)} (load ${os.loadavg().map((x) => x.toFixed(1)).join(", ")}): idle ${mb((result.idleRssBytes ?? 0) / 1024)} MB, ${result.opened}/${result.sessions} sessions ${mb((result.rssWithSessionsBytes ?? 0) / 1024)} MB, after close ${mb((result.rssAfterCloseBytes ?? 0) / 1024)} MB, ${result.sessionsPerSecond?.toFixed(0) ?? 'n/a'} sessions/s`;
  rows.push(line);
  process.stdout.write(`${line}\n`);
}
process.stdout.write(`${repoRoot}\n${rows.join('\n')}\n`);
