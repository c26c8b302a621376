// What the durable audit file's flushes do inside a running gateway, for scripts/bench-audit.ts
// --trace: wraps fs.fdatasync (the threadpool flushes of audit/append-file.ts) and AppendFile's
// append/whenDurable, without changing either. Per run: flushes, batches (appends) and waiting
// statements per flush, flushes already running when one starts, how long a flush takes (call to
// callback: threadpool hop, fdatasync, back to the event loop) and a statement's wait until durable.
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { type EventLoopUtilization, monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { AppendFile } from '../gateway/src/audit/append-file.ts';

interface Counts {
  flushes: number;
  appends: number;
  waits: number[];
  flushMicros: number[];
  runningAtStart: number[];
}

const now = (): number => Number(process.hrtime.bigint()) / 1000;
let counts: Counts = fresh();
let running = 0;

function fresh(): Counts {
  return { flushes: 0, appends: 0, waits: [], flushMicros: [], runningAtStart: [] };
}

// The event loop of the process running the gateways, per run: the share of the time it was busy
// (utilization) and how late its timers ran (a 1 ms timer's lag: what a flush's callback or a socket's
// data also waits for before the gateway sees it).
const loopDelay = monitorEventLoopDelay({ resolution: 1 });
let loopSince: EventLoopUtilization | null = null;

/** The event loop's utilization and delay since the last call (for every run, durable or not). */
export function takeLoopTrace(): string {
  const elu = performance.eventLoopUtilization(loopSince ?? undefined);
  loopSince = performance.eventLoopUtilization();
  const ms = (p: number): string => (loopDelay.percentile(p) / 1e6).toFixed(2);
  const line = `  event loop busy ${(elu.utilization * 100).toFixed(0)}%, delay ms p50 ${ms(50)} p90 ${ms(90)} p99 ${ms(99)}`;
  loopDelay.reset();
  return line;
}

/** Installs the wrappers (once, before the runs). */
export function installFlushTrace(): void {
  loopDelay.enable();
  const realFdatasync = fs.fdatasync;
  fs.fdatasync = ((fd: number, callback: fs.NoParamCallback) => {
    const start = now();
    counts.runningAtStart.push(running);
    running++;
    counts.flushes++;
    realFdatasync(fd, (error) => {
      running--;
      counts.flushMicros.push(now() - start);
      callback(error);
    });
  }) as typeof fs.fdatasync;
  syncBuiltinESMExports(); // append-file.ts's `import { fdatasync } from 'node:fs'` now sees the wrapper
  const append = AppendFile.prototype.append;
  AppendFile.prototype.append = function (this: AppendFile, batch: Buffer): void {
    counts.appends++;
    append.call(this, batch);
  };
  const whenDurable = AppendFile.prototype.whenDurable;
  AppendFile.prototype.whenDurable = function (this: AppendFile, done): void {
    const start = now();
    whenDurable.call(this, (error) => {
      counts.waits.push(now() - start);
      done(error);
    });
  };
}

/** The run's figures since the last call (null when nothing was flushed: an unsynced or no-audit run). */
export function takeFlushTrace(): string | null {
  const c = counts;
  counts = fresh();
  if (c.flushes === 0) return null;
  const q = (xs: number[], p: number): string => (xs.length === 0 ? '-' : [...xs].sort((a, b) => a - b)[Math.floor(p * (xs.length - 1))]!.toFixed(0));
  const mean = (xs: number[]): string => (xs.length === 0 ? '-' : (xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(1));
  return (
    `  flushes ${c.flushes}: ${(c.appends / c.flushes).toFixed(2)} batches and ${(c.waits.length / c.flushes).toFixed(2)} waiting statements per flush, ` +
    `${mean(c.runningAtStart)} already running at a start (p90 ${q(c.runningAtStart, 0.9)})\n` +
    `  flush µs p50 ${q(c.flushMicros, 0.5)} p90 ${q(c.flushMicros, 0.9)} p99 ${q(c.flushMicros, 0.99)}; ` +
    `statement wait until durable µs p50 ${q(c.waits, 0.5)} p90 ${q(c.waits, 0.9)} p99 ${q(c.waits, 0.99)}`
  );
}
