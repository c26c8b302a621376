// Group commit on a real disk whose flushes fail (test/support/failing-disk.ts): a flush fails while
// the next batch accumulates behind it, and neither batch is ever called durable.
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
