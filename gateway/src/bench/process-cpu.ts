// CPU time of a process from /proc/<pid>/stat (utime + stime of all its threads), and the CPU it
// spent per transaction over a measured run. Linux only: elsewhere the figures are null.
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';

/** User and system CPU time in clock ticks, fields 14 and 15 of /proc/<pid>/stat. */
export interface ProcStatTimes {
  utimeTicks: number;
  stimeTicks: number;
}

/**
 * Reads utime and stime out of one /proc/<pid>/stat line. The second field is the command name in
 * parentheses and may itself contain spaces and parentheses, so fields are counted after the last ')'.
 */
export function parseProcStat(text: string): ProcStatTimes | null {
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  // After ')': state(3) ppid(4) ... utime(14) stime(15); index 0 here is field 3.
  const fields = text.slice(close + 1).trim().split(/\s+/);
  const utime = Number(fields[14 - 3]);
  const stime = Number(fields[15 - 3]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime) || fields.length < 13) return null;
  return { utimeTicks: utime, stimeTicks: stime };
}

/** Microseconds of CPU between two readings taken `ticksPerSecond` apart (sysconf(_SC_CLK_TCK)). */
export function cpuMicrosBetween(before: ProcStatTimes, after: ProcStatTimes, ticksPerSecond: number): number {
  const ticks = after.utimeTicks + after.stimeTicks - (before.utimeTicks + before.stimeTicks);
  return (ticks * 1_000_000) / ticksPerSecond;
}

/** CPU µs per transaction; null when nothing was measured or no transaction ran. */
export function microsPerTransaction(cpuMicros: number | null, transactions: number | null | undefined): number | null {
  if (cpuMicros === null || transactions === null || transactions === undefined || transactions <= 0) return null;
  return cpuMicros / transactions;
}

let clockTicks: number | null = null;

/** sysconf(_SC_CLK_TCK), asked of `getconf` once; 100 on every Linux this runs on when it cannot be asked. */
export function ticksPerSecond(): number {
  if (clockTicks === null) {
    try {
      const value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
      clockTicks = Number.isInteger(value) && value > 0 ? value : 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

export async function readProcStat(pid: number): Promise<ProcStatTimes | null> {
  try {
    return parseProcStat(await readFile(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

/**
 * Starts measuring process `pid`; the returned function gives the CPU µs it spent since, or null
 * when /proc could not be read (not Linux, or the process exited).
 */
export async function startCpuMeter(pid: number): Promise<() => Promise<number | null>> {
  const before = await readProcStat(pid);
  return async () => {
    const after = await readProcStat(pid);
    return before === null || after === null ? null : cpuMicrosBetween(before, after, ticksPerSecond());
  };
}
