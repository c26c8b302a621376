// Opening an append-only audit file (audit/append-file.ts): its directory made, the descriptor opened
// (for writes at explicit offsets when preallocated), the zero tail or the non-durable bytes a crash left
// cut off, the write-ahead ring beside it, and the descriptors its concurrent flushes use.

import { closeSync, constants, fstatSync, ftruncateSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { dataEnd } from './unused-tail.ts';
import { RingBackedLog } from './ring-backed-log.ts';

/** The path that means standard output (never flushed to disk, never cut back). */
export const STDOUT = '-';

/**
 * Flushes that may run at once. A batch written while one runs waits for its own flush only, not for
 * the rest of the running one first. Each has its own descriptor: Linux reports a write-back error
 * once to every open file description (errseq), so a flush never takes the error another one needed
 * to see, and a flush that succeeds proves the batches written before it began are on disk. Three,
 * not more: Node's threadpool has four threads, and one stays free for the gateway's other work
 * (SCRAM logins upstream, policy files) while a slow disk holds the flushes.
 */
export const MAX_FLUSHES = 3;

/**
 * Opens (creating it and its directory) `path` for appending, `preallocated` or not, and cuts off a
 * zero tail (or the non-durable bytes a crash left in it) found there: the descriptor and the data's length.
 */
export function openLogFile(path: string, preallocated: boolean): { fd: number; size: number } {
  mkdirSync(dirname(path), { recursive: true });
  // Preallocated: written at explicit offsets (O_APPEND would write past the zero tail).
  const fd = openSync(path, preallocated ? constants.O_RDWR | constants.O_CREAT : 'a', 0o666);
  const length = fstatSync(fd).size;
  const end = length === 0 ? 0 : dataEnd(path, length);
  if (end === length) return { fd, size: length };
  try {
    ftruncateSync(fd, end);
    return { fd, size: end };
  } catch {
    return { fd, size: length }; // the partial batch stays; the verifier reports the unparsable line
  }
}

/** The write-ahead ring beside the log open on `fd`; the log's descriptor is closed when there is no room for it (a full disk). */
export function openRing(path: string, fd: number, ringBytes: number, failed: (error: Error) => void, flushedClosed: () => void): RingBackedLog {
  try {
    return new RingBackedLog(path, fd, ringBytes, failed, flushedClosed);
  } catch (e) {
    closeSync(fd); // no room for the ring (a full disk): nothing stays open
    throw e;
  }
}

/** The descriptors of `path` the concurrent flushes use (MAX_FLUSHES). */
export function openFlushDescriptors(path: string): number[] {
  const fds: number[] = [];
  for (let i = 0; i < MAX_FLUSHES; i++) fds.push(openSync(path, constants.O_WRONLY));
  return fds;
}
