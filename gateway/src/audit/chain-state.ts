// Where an audit log's hash chain continues when it is opened: its last record, records its write-ahead
// ring holds past it, or the state saved beside it (<path>.chain) at the last checkpoint or rotation.

import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { STDOUT, type AppendFile } from './append-file.ts';
import { EMPTY_CHAIN, headOfLine, type ChainHead } from './chain.ts';
import { recoverFromRing } from './ring-replay.ts';

/** What is saved beside the log at each checkpoint, to continue the chain into a rotated (empty) file. */
export interface ChainState {
  head: ChainHead;
  checkpoint: ChainHead | null;
}

/** The path of the state saved beside the log at `path`. */
export function chainStatePath(path: string): string {
  return `${path}.chain`;
}

/**
 * Where the chain of the just opened `file` continues, and the last checkpoint it continues from.
 * On standard output no state is kept and no ring read. `ringed`: the file has a write-ahead ring (its records
 * past the log's end, a power loss, are appended before anything else: audit/ring-replay.ts).
 * Throws AUDIT_WRITE_FAILED (the file closed) when those records cannot be appended.
 */
export function chainStart(
  file: AppendFile,
  ringed: boolean,
  problem: (level: 'error' | 'info', message: string) => void,
): { chain: ChainHead; lastCheckpoint: ChainHead | null } {
  const path = file.path;
  const stdout = path === STDOUT;
  const statePath = chainStatePath(path);
  const saved = stdout ? null : readState(statePath);
  let chain: ChainHead = stdout ? continueFrom(file, saved) : recoverFromRing(file, continueFrom(file, saved), ringed, problem);
  let lastCheckpoint: ChainHead | null = saved !== null && saved.checkpoint !== null && saved.checkpoint.seq <= chain.seq ? saved.checkpoint : null;
  if (saved !== null && saved.head.seq > chain.seq) {
    // The file ends before the checkpoint saved beside it: records were cut while no gateway wrote
    // it. Continuing from the file would sign a chain without them (verify would say OK); continuing
    // from the checkpoint leaves the gap where verify reports it (red-team round 7, R7-8).
    problem(
      'error',
      `the audit log ${path} ends at seq ${chain.seq}, before the checkpoint at seq ${saved.head.seq} saved in ${statePath}: records were removed from it; the chain continues from that checkpoint, so \`gatehouse audit verify\` reports the missing records`,
    );
    chain = saved.head;
    lastCheckpoint = saved.checkpoint;
  }
  return { chain, lastCheckpoint };
}

function readState(statePath: string): ChainState | null {
  try {
    return JSON.parse(readFileSync(statePath, 'utf8')) as ChainState;
  } catch {
    return null;
  }
}

/** Saves where the chain stands beside the log (written aside, then renamed over the old state). */
export function saveState(statePath: string, state: ChainState): void {
  try {
    writeFileSync(`${statePath}.tmp`, JSON.stringify(state));
    renameSync(`${statePath}.tmp`, statePath);
  } catch {
    // Only continuity into a file rotated while the gateway was stopped depends on it.
  }
}

/** The chain position to continue from: the file's last record, else the saved state, else the start. */
function continueFrom(file: AppendFile, saved: ChainState | null): ChainHead {
  const last = file.lastLine();
  if (last !== null) return headOfLine(last) ?? EMPTY_CHAIN;
  return saved?.head ?? EMPTY_CHAIN;
}
