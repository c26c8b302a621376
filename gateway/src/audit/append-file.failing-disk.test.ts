// Group commit on a real disk whose flushes fail (test/support/failing-disk.ts): a flush fails while
// the next batch accumulates behind it, and neither batch is ever called durable; and once the disk
// heals, what the failed flush did not store is written again (read back past the page cache).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mountFailingDisk } from '../../test/support/failing-disk.ts';
import { AppendFile } from './append-file.ts';

const disk = mountFailingDisk();
/** A 16 KiB batch: each needs blocks the disk has never stored (beyond the preallocated chunk, too). */
const batch = (seq: number): Buffer => Buffer.from(`${JSON.stringify({ seq, pad: 'x'.repeat(16 * 1024 - 22) })}\n`);
afterAll(() => disk?.remove());

describe.runIf(disk !== null)('AppendFile on a disk whose flushes fail', () => {
  it.each([0, 4096])('a flush that fails while the next batch accumulates fails both batches (preallocate %i)', async (preallocate) => {
    disk!.fail();
    const file = new AppendFile(join(disk!.dir, `pipelined-${preallocate}.ndjson`), true, preallocate);
    try {
      const answers: string[] = [];
      file.append(batch(2));
      file.whenDurable((e) => answers.push(`batch 2: ${e === null ? 'durable' : 'failed'}`));
      // A flush starts at once when none runs (fsync15), and its answer cannot arrive before this
      // code yields: batch 3 is appended while batch 2's flush is in flight.
      const inFlight = file.flushing;
      file.append(batch(3));
      file.whenDurable((e) => answers.push(`batch 3: ${e === null ? 'durable' : 'failed'}`));
      expect(inFlight).toBe(true);
      // Both answers come from flushes that fail at once on this disk; the bound is time, not turns, and
      // generous, for a loaded CI machine (two cores shared with the whole suite).
      const until = Date.now() + 20_000;
      while (Date.now() < until && answers.length < 2) await new Promise((r) => setTimeout(r, 10));
      expect(answers, `flushing: ${file.flushing}, disk ${disk!.dir}`).toEqual(['batch 2: failed', 'batch 3: failed']);
    } finally {
      disk!.heal();
      file.close();
    }
  });
});

/** The file as the disk holds it, past the page cache (O_DIRECT, as scripts/failed-flush-after-heal.ts reads it). */
const onDisk = (path: string): Buffer => execFileSync('dd', [`if=${path}`, 'bs=4096', 'iflag=direct', 'status=none'], { maxBuffer: 64 << 20 });
/** The seq of each line of `bytes`; a line that is no JSON fails the test with its text. */
const seqs = (bytes: Buffer): number[] =>
  bytes
    .toString('utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => (JSON.parse(l) as { seq: number }).seq);

/**
 * Runs `test` on a failing disk of its own. Once a disk has failed and healed, blocks freed on it may
 * take later writes whose flush succeeds though the disk never stores them (seen here, 2026-12-07: a
 * second round on one disk left 12 KiB of NUL under a successful fdatasync), which no writer can detect;
 * a fresh disk fails honestly: the flush reports the error.
 */
const onFreshDisk = (test: (d: NonNullable<typeof disk>) => void): void => {
  const own = mountFailingDisk();
  if (own === null) throw new Error('a second failing disk could not be made');
  try {
    test(own);
  } finally {
    own.heal();
    own.remove();
  }
};

describe.runIf(disk !== null)('AppendFile after a failed flush, once the disk heals (issue 7)', () => {
  // The failed flush's pages stay in the page cache, clean: a read shows the records, the next fdatasync
  // succeeds without writing them, and the disk holds NUL bytes there unless they are written again.
  it.each([
    [0, 0],
    [4096, 0],
    [0, 65536],
  ])('writes the records of the failed flush again: no NUL byte on disk, every line whole (preallocate %i, ring %i)', (preallocate, ring) =>
    onFreshDisk((d) => {
      const path = join(d.dir, 'healed.ndjson');
      const file = new AppendFile(path, true, preallocate, () => undefined, () => undefined, ring);
      try {
        file.append(batch(1));
        file.syncNow();
        d.fail();
        file.append(batch(2));
        expect(() => file.syncNow()).toThrow(/ENOSPC|EIO/);
        d.heal();
        file.append(batch(3));
        file.syncNow();
      } finally {
        d.heal();
        file.close();
      }
      const bytes = onDisk(path);
      expect(bytes.indexOf(0), `NUL bytes on disk: ${bytes.filter((b) => b === 0).length} of ${bytes.length}`).toBe(-1);
      expect(seqs(bytes)).toEqual([1, 2, 3]);
    }),
  );

  it('a file closed after a failed flush: the file reopened at its path writes those records again', () =>
    onFreshDisk((d) => {
      const path = join(d.dir, 'healed-reopened.ndjson');
      const first = new AppendFile(path, true);
      let unflushed;
      try {
        first.append(batch(1));
        first.syncNow();
        d.fail();
        first.append(batch(2));
        expect(() => first.syncNow()).toThrow(/ENOSPC|EIO/);
        unflushed = first.takeUnflushed();
      } finally {
        d.heal();
        first.close();
      }
      expect(unflushed?.from).toBeLessThanOrEqual(batch(1).length); // the start of the block it ends in
      const second = new AppendFile(path, true);
      try {
        second.adoptUnflushed(unflushed!);
        second.append(batch(3));
        second.syncNow();
      } finally {
        second.close();
      }
      const bytes = onDisk(path);
      expect(bytes.indexOf(0), `NUL bytes on disk: ${bytes.filter((b) => b === 0).length} of ${bytes.length}`).toBe(-1);
      expect(seqs(bytes)).toEqual([1, 2, 3]);
    }),
  );
});
