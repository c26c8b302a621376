// What a log keeps past its last good flush and how it writes it again, on a real file (the disk that
// fails is in append-file.failing-disk.test.ts); with a 4 KiB window, to keep the files small.
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UnflushedTail } from './unflushed-tail.ts';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-unflushed-tail-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A line of `n` bytes (with its newline) of `c`. */
const line = (c: string, n: number): string => `${c.repeat(n - 1)}\n`;

/** A file that held `before` at open, then `lines` appended (each a batch), and the tail that tracked them. */
function logOf(name: string, before: string, lines: string[]): { fd: number; path: string; tail: UnflushedTail; ends: number[] } {
  const path = join(dir, name);
  writeFileSync(path, before);
  const tail = new UnflushedTail(path, before.length, 4096);
  const fd = openSync(path, 'r+');
  const ends: number[] = [];
  let at = before.length;
  for (const l of lines) {
    const b = Buffer.from(l);
    writeSync(fd, b, 0, b.length, at);
    at += b.length;
    tail.written([b], at);
    ends.push(at);
  }
  return { fd, path, tail, ends };
}

describe('UnflushedTail', () => {
  it('after a failed flush, cuts back to the block of the last good flush and appends what followed again', () => {
    const lines = [line('a', 3000), line('b', 3000), line('c', 3000)];
    const { fd, path, tail, ends } = logOf('rewrite', '', lines);
    try {
      tail.flushed(ends[1]!); // 6000: the block from 4096 holds durable bytes of b
      tail.flushFailed();
      expect(tail.failed).toBe(true);
      expect(tail.take()!.from).toBe(4096);
      // A flush succeeding after the failure confirms nothing: it may have skipped the failed pages.
      tail.flushed(ends[2]!);
      writeSync(fd, Buffer.alloc(3000), 0, 3000, 4096); // NUL, as the disk may hold it
      expect(tail.rewrite(fd)).toBe(ends[2]);
      expect(tail.failed).toBe(false);
      expect(readFileSync(path, 'utf8')).toBe(lines.join(''));
    } finally {
      closeSync(fd);
    }
  });

  it('keeps the last partly filled block a log held at open', () => {
    const before = line('o', 5000);
    const { fd, path, tail } = logOf('opened', before, [line('n', 100)]);
    try {
      tail.flushFailed();
      const u = tail.take()!;
      expect(u.from).toBe(4096);
      expect(Buffer.concat(u.batches).toString()).toBe(before.slice(4096) + line('n', 100));
      writeSync(fd, Buffer.alloc(1000), 0, 1000, 4096);
      tail.rewrite(fd);
      expect(readFileSync(path, 'utf8')).toBe(before + line('n', 100));
    } finally {
      closeSync(fd);
    }
  });

  it('hands what a closed log must write again to the file reopened at its path', () => {
    const lines = [line('a', 5000), line('b', 5000)];
    const { fd, path, tail, ends } = logOf('take', '', lines);
    tail.flushed(ends[0]!);
    expect(tail.take()).toBeNull();
    tail.flushFailed();
    const u = tail.take()!;
    expect(u.from).toBe(4096);
    closeSync(fd);
    const next = new UnflushedTail(path, ends[1]!, 4096);
    next.adopt(u);
    expect(next.failed).toBe(true);
    const again = openSync(path, 'r+');
    try {
      expect(next.rewrite(again)).toBe(ends[1]);
      expect(readFileSync(path, 'utf8')).toBe(lines.join(''));
    } finally {
      closeSync(again);
    }
  });

  it('refuses to write again into a file shorter than where the rewrite starts (cut or replaced)', () => {
    const { fd, tail, ends } = logOf('short', '', [line('a', 9000)]);
    try {
      tail.flushed(ends[0]!);
      tail.flushFailed();
      const replaced = join(dir, 'replaced');
      writeFileSync(replaced, '');
      const other = new UnflushedTail(replaced, 0, 4096);
      other.adopt(tail.take()!);
      const empty = openSync(replaced, 'r+');
      try {
        expect(() => other.rewrite(empty)).toThrow(/fewer than the 8192 flushed/);
      } finally {
        closeSync(empty);
      }
    } finally {
      closeSync(fd);
    }
  });
});
