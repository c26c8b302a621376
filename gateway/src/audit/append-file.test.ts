import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AppendFile } from './append-file.ts';
import { auditFileSource } from './record-source-files.ts';
import { isUnusedTail } from './unused-tail.ts';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-append-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CHUNK = 64 * 1024;
const line = (n: number): string => JSON.stringify({ seq: n, prev: 'x', type: 'outcome' });
const durable = (f: AppendFile): Promise<Error | null> => new Promise((resolve) => f.whenDurable(resolve));

describe('AppendFile, preallocated', () => {
  it('extends the file with zeros ahead of the records and cuts the tail when closed', async () => {
    const path = join(dir, 'prealloc.ndjson');
    const f = new AppendFile(path, true, CHUNK);
    f.append(Buffer.from(`${line(1)}\n${line(2)}\n`));
    expect(await durable(f)).toBeNull();
    const data = `${line(1)}\n${line(2)}\n`;
    expect(f.bytes).toBe(data.length);
    expect(statSync(path).size).toBeGreaterThanOrEqual(data.length + CHUNK);
    const live = readFileSync(path, 'utf8');
    expect(live.startsWith(data)).toBe(true);
    expect(isUnusedTail(live.slice(data.length))).toBe(true);
    // Readers see the records and nothing of the tail.
    const seen: string[] = [];
    for await (const l of auditFileSource([path]).lines({ types: [], since: null, until: null, decisionId: null })) seen.push(l.text);
    expect(seen).toEqual([line(1), line(2)]);
    f.close();
    expect(readFileSync(path, 'utf8')).toBe(data);
  });

  it('keeps extending past a chunk, every record in order', async () => {
    const path = join(dir, 'many.ndjson');
    const f = new AppendFile(path, true, 4096);
    const expected: string[] = [];
    for (let n = 1; n <= 500; n++) {
      f.append(Buffer.from(`${line(n)}\n`));
      expected.push(line(n));
    }
    expect(await durable(f)).toBeNull();
    f.close();
    expect(readFileSync(path, 'utf8')).toBe(`${expected.join('\n')}\n`);
  });

  it('after a crash (the zero tail left), continues after the last record', async () => {
    const path = join(dir, 'live.ndjson');
    const f = new AppendFile(path, true, CHUNK);
    f.append(Buffer.from(`${line(1)}\n${line(2)}\n`));
    expect(await durable(f)).toBeNull();
    const crashed = join(dir, 'crashed.ndjson');
    copyFileSync(path, crashed); // the file as a kill -9 leaves it: records, then zeros
    f.close();
    const g = new AppendFile(crashed, true, CHUNK);
    expect(g.lastLine()).toBe(line(2));
    g.append(Buffer.from(`${line(3)}\n`));
    g.close();
    expect(readFileSync(crashed, 'utf8')).toBe(`${line(1)}\n${line(2)}\n${line(3)}\n`);
  });

  it('after a crash that left a record half written into the zeros, and bytes after it, cuts back to the last whole record', () => {
    const path = join(dir, 'holes.ndjson');
    const torn = `${line(3)}`.slice(0, 10);
    writeFileSync(path, Buffer.concat([Buffer.from(`${line(1)}\n${line(2)}\n${torn}`), Buffer.alloc(100), Buffer.from(`${line(4)}\n`), Buffer.alloc(5000)]));
    const f = new AppendFile(path, true, CHUNK);
    expect(f.lastLine()).toBe(line(2));
    f.close();
    expect(readFileSync(path, 'utf8')).toBe(`${line(1)}\n${line(2)}\n`);
  });

  it('writes the batches appended during one turn with one write at its end', async () => {
    const path = join(dir, 'turn.ndjson');
    const f = new AppendFile(path, true, CHUNK);
    f.append(Buffer.from(`${line(1)}\n`));
    expect(await durable(f)).toBeNull(); // the first chunk is allocated
    // This thread's write(2)-family calls, as the kernel counts them (no mock).
    const writes = (): number => Number(/syscw:\s+(\d+)/.exec(readFileSync('/proc/thread-self/io', 'utf8'))![1]);
    const before = writes();
    const expected = [line(1)];
    for (let n = 2; n <= 51; n++) {
      f.append(Buffer.from(`${line(n)}\n`));
      expected.push(line(n));
    }
    const during = writes() - before;
    await new Promise((r) => setImmediate(r));
    const after = writes() - before;
    expect(during).toBe(0);
    expect(after).toBeGreaterThanOrEqual(1);
    expect(after).toBeLessThanOrEqual(2); // one pwritev (and at most one unrelated write of this thread)
    expect(await durable(f)).toBeNull();
    f.close();
    expect(readFileSync(path, 'utf8')).toBe(`${expected.join('\n')}\n`);
  });

  it.runIf(process.getuid?.() === 0)('on a disk with less room than a chunk, gives each batch its own space without writing zeros up to the disk\'s end again', () => {
    const mnt = join(dir, 'small-tmpfs');
    mkdirSync(mnt);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]);
    } catch {
      return; // no mount here (not a privileged container)
    }
    /** Bytes this process has handed to write(2) and its kind so far (/proc/self/io). */
    const written = (): number => Number(/^wchar: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))![1]);
    const path = join(mnt, 'audit.ndjson');
    const f = new AppendFile(path, true, 64 << 20); // the default chunk, 64 times the disk
    try {
      const expected: string[] = [];
      const add = (n: number): void => {
        f.append(Buffer.from(`${line(n)}\n`));
        f.writeAppended();
        expected.push(line(n));
      };
      add(1); // the whole chunk does not fit: zeros up to the disk's end, cut back, then the batch's own
      const before = written();
      for (let n = 2; n <= 21; n++) add(n);
      // Each batch: its zeros and its line (about 2 x 50 bytes), not another megabyte of zeros.
      expect(written() - before).toBeLessThan(64 * 1024);
      f.close();
      expect(readFileSync(path, 'utf8')).toBe(`${expected.join('\n')}\n`);
    } finally {
      f.close();
      execFileSync('umount', [mnt]);
    }
  });

  it('a log opened without fsync is written by plain appends', () => {
    const path = join(dir, 'plain.ndjson');
    const f = new AppendFile(path, false, CHUNK);
    f.append(Buffer.from(`${line(1)}\n`));
    expect(statSync(path).size).toBe(line(1).length + 1);
    f.close();
  });
});
