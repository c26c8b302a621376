// The child processes of a process and their resident memory (Linux /proc): memory of `gatehouse
// serve` that its own VmRSS does not show (esbuild's compiler process stayed beside it until 2026-12-08).
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

export interface ChildProcessMemory {
  pid: number;
  /** The executable's base name. */
  command: string;
  /** VmRSS, bytes. */
  rssBytes: number;
}

/** The direct children of `pid` now, with their VmRSS; [] where /proc cannot tell (not Linux, exited). */
export async function childProcessMemory(pid: number): Promise<ChildProcessMemory[]> {
  let tasks: string[];
  try {
    tasks = await readdir(`/proc/${pid}/task`);
  } catch {
    return [];
  }
  const children = new Set<number>();
  for (const task of tasks) {
    const text = await readFile(`/proc/${pid}/task/${task}/children`, 'utf8').catch(() => '');
    for (const child of text.trim().split(' ')) if (child !== '') children.add(Number(child));
  }
  const found: ChildProcessMemory[] = [];
  for (const child of children) {
    try {
      const command = (await readFile(`/proc/${child}/cmdline`, 'utf8')).split('\0')[0] ?? '';
      const rss = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${child}/status`, 'utf8'));
      found.push({ pid: child, command: path.basename(command), rssBytes: rss ? Number(rss[1]) * 1024 : 0 });
    } catch {
      // exited meanwhile
    }
  }
  return found;
}
