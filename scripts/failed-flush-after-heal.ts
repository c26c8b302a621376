// What a failed flush leaves on a disk that then heals (test/support/failing-disk.ts; root): 16 KiB
// written and flushed, the disk fails, 16 KiB more written and flushed (ENOSPC), the disk heals, the
// same descriptor and a new one flushed again (both succeed: the error was reported once), then the
// file read past the page cache (O_DIRECT) and through it. Found 2026-12-07 (branch durable19): the
// second 16 KiB is NUL on disk while the page cache still shows it, and no later fdatasync writes it,
// so an audit log kept open, or reopened, after a flush failure has a hole where those records were.
// Gatehouse writes such records again after a failed flush (audit/unflushed-tail.ts, docs/audit.md).
//   node --import tsx scripts/failed-flush-after-heal.ts
import { execFileSync } from 'node:child_process';
import { closeSync, fdatasyncSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { mountFailingDisk } from '../gateway/test/support/failing-disk.ts';

const disk = mountFailingDisk();
if (disk === null) throw new Error('needs root (mount, losetup) to make a failing disk');
const flush = (fd: number): string => {
  try {
    fdatasyncSync(fd);
    return 'ok';
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? String(e);
  }
};
try {
  const path = join(disk.dir, 'log');
  const fd = openSync(path, 'a');
  writeSync(fd, Buffer.alloc(16384, 0x41));
  process.stdout.write(`first 16 KiB, disk working: ${flush(fd)}\n`);
  disk.fail();
  writeSync(fd, Buffer.alloc(16384, 0x42));
  process.stdout.write(`second 16 KiB, disk failing: ${flush(fd)}\n`);
  disk.heal();
  const reopened = openSync(path, 'r+');
  process.stdout.write(`after healing: same descriptor ${flush(fd)}, new descriptor ${flush(reopened)}\n`);
  const count = (b: Buffer, byte: number): number => b.filter((x) => x === byte).length;
  const onDisk = execFileSync('dd', [`if=${path}`, 'bs=4096', 'iflag=direct', 'status=none']);
  const cached = execFileSync('cat', [path]);
  process.stdout.write(
    `page cache: ${count(cached, 0x41)} bytes of the first write, ${count(cached, 0x42)} of the second; ` +
      `disk (O_DIRECT): ${count(onDisk, 0x41)} of the first, ${count(onDisk, 0x42)} of the second, ${count(onDisk, 0)} NUL\n`,
  );
  closeSync(fd);
  closeSync(reopened);
} finally {
  disk.remove();
}
