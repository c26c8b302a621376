// The CPU time one thread has used, read from Linux's /proc by another thread: how the evaluation
// pool measures a worker's own work while it runs (time spent waiting for a CPU does not count).

import { closeSync, openSync, readlinkSync, readSync } from 'node:fs';

/** This thread's kernel thread id (called inside a worker), or null where /proc/thread-self is missing. */
export function currentThreadId(): number | null {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(tid) && tid > 0 ? tid : null;
  } catch {
    return null;
  }
}

/** Reads one thread's CPU time: /proc/self/task/<tid>/schedstat, whose first field is nanoseconds on a CPU. */
export class ThreadCpuClock {
  private readonly buffer = Buffer.alloc(128);
  private fd: number | null;

  private constructor(fd: number) {
    this.fd = fd;
  }

  /** A clock for thread `tid` of this process, or null when the kernel does not offer one. */
  static open(tid: number): ThreadCpuClock | null {
    try {
      const clock = new ThreadCpuClock(openSync(`/proc/self/task/${tid}/schedstat`, 'r'));
      return clock.millis() === null ? (clock.close(), null) : clock;
    } catch {
      return null;
    }
  }

  /** CPU milliseconds the thread has used so far; null once the thread is gone. */
  millis(): number | null {
    if (this.fd === null) return null;
    try {
      const n = readSync(this.fd, this.buffer, 0, this.buffer.length, 0);
      const ns = Number(this.buffer.toString('latin1', 0, n).split(' ', 1)[0]);
      return Number.isFinite(ns) ? ns / 1e6 : null;
    } catch {
      return null;
    }
  }

  close(): void {
    if (this.fd === null) return;
    closeSync(this.fd);
    this.fd = null;
  }
}
