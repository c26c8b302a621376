// A real disk whose flushes fail: an ext4 file system on a loop device whose backing file lives on a
// small tmpfs. Writes land in ext4's page cache (ext4 has room), but once the tmpfs is full the loop
// device cannot store them, so fdatasync(2) fails as on a dying disk. Needs root (mount, losetup);
// `mountFailingDisk()` returns null where it cannot be set up, and tests skip.

import { execFileSync } from 'node:child_process';
import { closeSync, fdatasyncSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface FailingDisk {
  /** Where to put files: the ext4 mount. */
  dir: string;
  /** Fills the tmpfs under the loop device: from now on flushes of new data fail. */
  fail(): void;
  /** Frees the tmpfs: flushes succeed again. */
  heal(): void;
  /** Unmounts everything (files on it must be closed). */
  remove(): void;
}

export function mountFailingDisk(): FailingDisk | null {
  if (process.getuid?.() !== 0) return null;
  const root = mkdtempSync(join(tmpdir(), 'gatehouse-failing-disk-'));
  const backing = join(root, 'backing');
  const dir = join(root, 'ext4');
  mkdirSync(backing);
  mkdirSync(dir);
  const run = (cmd: string, args: string[]): string => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  const undo: Array<() => void> = [() => rmSync(root, { recursive: true, force: true })];
  const remove = (): void => {
    for (const step of undo.splice(0).reverse()) {
      try {
        step();
      } catch {
        // best effort: the next step may still succeed
      }
    }
  };
  try {
    run('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', backing]);
    undo.push(() => run('umount', ['-l', backing]));
    const image = join(backing, 'image');
    run('truncate', ['-s', '64M', image]);
    // No journal and few inodes, their tables written now (not lazily after mount, which would fill
    // the tmpfs by itself): the file system's own metadata never needs the full device.
    run('mkfs.ext4', ['-q', '-O', '^has_journal', '-N', '64', '-E', 'nodiscard,lazy_itable_init=0', image]);
    const loop = run('losetup', ['-f', '--show', image]);
    undo.push(() => run('losetup', ['-d', loop]));
    run('mount', ['-t', 'ext4', loop, dir]);
    undo.push(() => run('umount', ['-l', dir]));
  } catch {
    remove();
    return null;
  }
  const filler = join(backing, 'filler');
  return {
    dir,
    fail: () => {
      try {
        writeFileSync(filler, Buffer.alloc(8 << 20));
      } catch {
        // ENOSPC: the tmpfs is full, which is the point
      }
      // The loop device may still store a little (pages the tmpfs had already): use it up, so the
      // next flush of new blocks fails.
      const probe = openSync(join(dir, 'slack'), 'a');
      try {
        for (let i = 0; i < 256; i++) {
          writeSync(probe, Buffer.alloc(64 * 1024, 0x2e));
          try {
            fdatasyncSync(probe);
          } catch {
            return;
          }
        }
        throw new Error('the failing disk did not fail');
      } finally {
        closeSync(probe);
      }
    },
    heal: () => {
      rmSync(filler, { force: true });
      rmSync(join(dir, 'slack'), { force: true });
    },
    remove,
  };
}
