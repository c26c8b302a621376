import { describe, expect, it } from 'vitest';
import { cpuMicrosBetween, microsPerTransaction, parseProcStat, readProcStat, ticksPerSecond } from './process-cpu.ts';

// A real line from /proc/<pid>/stat (PgBouncer), utime 1234 and stime 567.
const LINE = '4242 (pgbouncer) S 1 4242 4242 0 -1 4194560 301 0 0 0 1234 567 0 0 20 0 1 0 894403 3133440 411 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n';

describe('parseProcStat', () => {
  it('reads utime and stime (fields 14 and 15)', () => {
    expect(parseProcStat(LINE)).toEqual({ utimeTicks: 1234, stimeTicks: 567 });
  });

  it('counts fields after the last parenthesis, so a command name with spaces and parentheses does not shift them', () => {
    expect(parseProcStat(LINE.replace('(pgbouncer)', '(node (worker) 2)'))).toEqual({ utimeTicks: 1234, stimeTicks: 567 });
  });

  it('returns null for text that is not a stat line', () => {
    expect(parseProcStat('')).toBeNull();
    expect(parseProcStat('12 (x) S 1 2')).toBeNull();
  });

  it('reads this process from /proc on Linux', async () => {
    if (process.platform !== 'linux') return;
    const times = await readProcStat(process.pid);
    expect(times).not.toBeNull();
    expect(times!.utimeTicks + times!.stimeTicks).toBeGreaterThanOrEqual(0);
    expect(ticksPerSecond()).toBeGreaterThan(0);
  });
});

describe('CPU accounting', () => {
  it('turns ticks into microseconds at the clock rate', () => {
    const before = { utimeTicks: 100, stimeTicks: 50 };
    const after = { utimeTicks: 160, stimeTicks: 90 };
    // 100 ticks at 100 Hz = 1 s.
    expect(cpuMicrosBetween(before, after, 100)).toBe(1_000_000);
    expect(cpuMicrosBetween(before, after, 250)).toBe(400_000);
  });

  it('divides by the transactions, and gives null when there is nothing to divide', () => {
    expect(microsPerTransaction(1_000_000, 40_000)).toBe(25);
    expect(microsPerTransaction(null, 40_000)).toBeNull();
    expect(microsPerTransaction(1_000_000, 0)).toBeNull();
    expect(microsPerTransaction(1_000_000, undefined)).toBeNull();
  });
});
