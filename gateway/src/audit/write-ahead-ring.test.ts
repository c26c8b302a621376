// The write-ahead ring on its own: whatever moment the power goes, the log's flushed prefix plus the
// frames the ring holds give back every line written, through laps and a log flush that lags; a
// frame cut short is never taken.
import { mkdtempSync, openSync, closeSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { chainLine, EMPTY_CHAIN, lineHash, type ChainHead } from './chain.ts';
import { linesAfter } from './ring-replay.ts';
import type { AuditRecord } from './types.ts';
import { MIN_RING_BYTES, WriteAheadRing } from './write-ahead-ring.ts';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-ring-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `n` chained lines of varied length (a few hundred bytes to several KB, as statement and outcome records are). */
function chained(n: number, from: ChainHead = EMPTY_CHAIN): string[] {
  const lines: string[] = [];
  let at = from;
  for (let i = 0; i < n; i++) {
    const { line, next } = chainLine({ v: 1, type: 'sink', time: `t${i}`, event: 'opened', outage: null, pad: 'x'.repeat((i * 7919) % 5000) } as unknown as AuditRecord, at);
    lines.push(line);
    at = next;
  }
  return lines;
}

const headAfter = (lines: string[]): ChainHead => (lines.length === 0 ? EMPTY_CHAIN : { seq: lines.length, head: lineHash(lines.at(-1)!) });

describe('WriteAheadRing', () => {
  it('is made of written zeros of its size (at least MIN_RING_BYTES), and is kept when reopened at that size', () => {
    const path = join(dir, 'size.wal');
    const ring = new WriteAheadRing(path, 1000);
    expect(ring.size).toBe(MIN_RING_BYTES);
    expect(statSync(path).size).toBe(MIN_RING_BYTES);
    ring.write(Buffer.from('{"seq":1}\n'), 10, () => 0, () => undefined);
    ring.close();
    const again = new WriteAheadRing(path, MIN_RING_BYTES);
    expect(again.readFrames().map((b) => b.toString())).toEqual(['{"seq":1}\n']);
    again.close();
  });

  it('keeps every line not yet flushed in the log through many laps: flushed prefix + frames = all lines, at every write', () => {
    const ring = new WriteAheadRing(join(dir, 'laps.wal'), MIN_RING_BYTES);
    const lines = chained(400); // ~1 MB: some 15 laps of a 64 KiB ring
    let logEnd = 0;
    let logSynced = 0; // bytes of the log a power loss would keep
    let syncs = 0;
    const ends: number[] = [];
    for (const [i, line] of lines.entries()) {
      const batch = Buffer.from(`${line}\n`);
      logEnd += batch.length;
      ends.push(logEnd);
      const end = logEnd;
      ring.write(batch, end, () => logSynced, () => {
        syncs++;
        logSynced = end; // the log flushed in the event loop: the ring came round before a background flush
      });
      // The power goes now: what the log kept, then what the ring holds after it.
      const kept = ends.filter((e) => e <= logSynced).length;
      const recovered = linesAfter(ring.readFrames(), headAfter(lines.slice(0, kept)));
      expect(kept + recovered.length).toBe(i + 1);
      expect(recovered).toEqual(lines.slice(kept, i + 1));
    }
    // The log was flushed only when the ring came round to frames it still needed: about once a lap.
    expect(syncs).toBeGreaterThan(5);
    expect(syncs).toBeLessThan(60);
    ring.close();
  }, 60_000);

  it('flushes nothing when the log is flushed ahead of the ring', () => {
    const ring = new WriteAheadRing(join(dir, 'ahead.wal'), MIN_RING_BYTES);
    let logEnd = 0;
    let syncs = 0;
    for (const line of chained(200)) {
      logEnd += line.length + 1;
      const end = logEnd;
      ring.write(Buffer.from(`${line}\n`), end, () => end, () => syncs++);
    }
    expect(syncs).toBe(0);
    ring.close();
  });

  it('takes no frame cut short (a crash in the middle of its write) and no frame of another file', () => {
    const path = join(dir, 'torn.wal');
    const ring = new WriteAheadRing(path, MIN_RING_BYTES);
    const lines = chained(3);
    for (const line of lines) ring.write(Buffer.from(`${line}\n`), 0, () => 0, () => undefined);
    ring.close();
    // Cut the last frame: its last 10 bytes back to zeros.
    const size = lines.reduce((n, l) => n + 44 + l.length + 1, 0);
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.alloc(10), 0, 10, size - 10);
    closeSync(fd);
    const again = new WriteAheadRing(path, MIN_RING_BYTES);
    const frames = again.readFrames();
    again.close();
    expect(frames).toHaveLength(2);
    expect(linesAfter(frames, EMPTY_CHAIN)).toEqual(lines.slice(0, 2));
    // Lines of another chain (a rotated file's, an older run's) with the same seqs never continue this one.
    const other = chained(4, { seq: 0, head: 'f'.repeat(64) });
    expect(linesAfter([Buffer.from(`${other.join('\n')}\n`), ...frames], EMPTY_CHAIN)).toEqual(lines.slice(0, 2));
  });
});
