// Keeps a policies.git work directory from growing with every commit it checks: removes old
// checkouts under commits/, the compiled modules only they used under build/, and temporary
// directories left behind by an interrupted checkout or build.

import type { Dirent } from 'node:fs';
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { readPolicyFiles } from '../policy-files.ts';
import { REGO_BUILD_TEMP_PREFIX, regoModuleName } from '../rego-engine.ts';
import type { EngineKind } from '../types.ts';
import { firstLine } from './git-repo.ts';
import { CHECKOUT_TEMP_PREFIX } from './materialize.ts';

/** Checkouts kept besides the active and the just-checked commit, so a revert to one stays fast. */
export const RECENT_CHECKOUTS_KEPT = 4;
/** A temporary directory this old is left over from a checkout or build that never finished. */
export const STALE_TEMP_MS = 10 * 60 * 1000;

/** `<sha1>` or `<sha256>`: the names materializeCommit gives checkouts. Anything else is left alone. */
const CHECKOUT_NAME = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
/** The names compileRegoDirectory gives cached modules. */
const MODULE_NAME = /^rego-[0-9a-f]{64}\.wasm$/;

export interface PruneOptions {
  /** <work_dir>/commits: one <hash>/ directory per checked-out commit. */
  commitsDir: string;
  /** <work_dir>/build: compiled modules by content hash, and opa build's scratch directories. */
  buildDir: string;
  engine: EngineKind;
  /** The engine's policy directory, relative to a checkout's root. */
  policyPath: string;
  /** Commits kept whatever their age: the active one and the one just checked. */
  keep: readonly string[];
  /** How many other checkouts to keep, most recently used (directory mtime) first. */
  recent?: number;
  staleTempMs?: number;
  /** The clock, in ms since the epoch (tests). */
  now?: number;
}

export interface PruneReport {
  /** Hashes of the checkouts removed. */
  checkouts: string[];
  /** File names of the compiled modules removed. */
  modules: string[];
  /** Paths of the stale temporary directories removed. */
  temporary: string[];
  /** Hashes of the checkouts still there. */
  kept: string[];
  /** What could not be read or removed, one line each. Pruning never throws. */
  failures: string[];
}

/**
 * Removes every checkout except the kept commits and the `recent` most recently used others,
 * every compiled module none of the remaining checkouts compiles to, and temporary directories
 * older than `staleTempMs`. Engines read their files only while loading (the WASM module is read
 * into memory, Cedar policies are parsed), so nothing removed here is still read by one.
 */
export async function pruneWorkDir(opts: PruneOptions): Promise<PruneReport> {
  const report: PruneReport = { checkouts: [], modules: [], temporary: [], kept: [], failures: [] };
  const staleBefore = (opts.now ?? Date.now()) - (opts.staleTempMs ?? STALE_TEMP_MS);
  const kept = await pruneCheckouts(opts, staleBefore, report);
  await pruneBuild(opts, kept, staleBefore, report);
  return report;
}

/** Returns the checkouts left, or null when commits/ could not be read (then no module is removed). */
async function pruneCheckouts(opts: PruneOptions, staleBefore: number, report: PruneReport): Promise<string[] | null> {
  const entries = await list(opts.commitsDir, report);
  if (entries === null) return null;
  const keep = new Set(opts.keep);
  const others: Array<{ name: string; mtimeMs: number }> = [];
  for (const entry of entries) {
    const path = join(opts.commitsDir, entry.name);
    if (entry.isDirectory() && entry.name.startsWith(CHECKOUT_TEMP_PREFIX)) {
      await removeIfStale(path, staleBefore, report);
    } else if (entry.isDirectory() && CHECKOUT_NAME.test(entry.name)) {
      if (keep.has(entry.name)) report.kept.push(entry.name);
      else {
        const mtimeMs = await mtimeOf(path);
        if (mtimeMs !== null) others.push({ name: entry.name, mtimeMs });
      }
    }
  }
  others.sort((a, b) => b.mtimeMs - a.mtimeMs || (a.name < b.name ? -1 : 1));
  const recent = opts.recent ?? RECENT_CHECKOUTS_KEPT;
  for (const [i, { name }] of others.entries()) {
    if (i < recent) report.kept.push(name);
    else if (await remove(join(opts.commitsDir, name), report)) report.checkouts.push(name);
  }
  return report.kept;
}

async function pruneBuild(opts: PruneOptions, kept: readonly string[] | null, staleBefore: number, report: PruneReport): Promise<void> {
  const entries = await list(opts.buildDir, report);
  if (entries === null) return;
  for (const entry of entries) {
    if (entry.isDirectory() && entry.name.startsWith(REGO_BUILD_TEMP_PREFIX)) await removeIfStale(join(opts.buildDir, entry.name), staleBefore, report);
  }
  if (kept === null) return;
  const used = new Set<string>();
  for (const commit of kept) {
    const policyDir = join(opts.commitsDir, commit, opts.policyPath);
    try {
      for (const name of await modulesOf(opts.engine, policyDir)) used.add(name);
    } catch (e) {
      // Not knowing what a kept checkout compiles to, keep every module.
      report.failures.push(`cannot read ${policyDir}: ${firstLine(e)}`);
      return;
    }
  }
  for (const entry of entries) {
    if (!entry.isFile() || !MODULE_NAME.test(entry.name) || used.has(entry.name)) continue;
    if (await remove(join(opts.buildDir, entry.name), report)) report.modules.push(entry.name);
  }
}

/** The build/ files a checkout's policy directory compiles to. */
async function modulesOf(engine: EngineKind, policyDir: string): Promise<string[]> {
  switch (engine) {
    case 'rego': {
      // A commit refused for lacking its policy directory compiled to nothing.
      const files = await readPolicyFiles(policyDir, 'rego').catch((e: unknown) => {
        if (isMissing(e)) return [];
        throw e;
      });
      return files.length === 0 ? [] : [regoModuleName(files)];
    }
    case 'cedar':
      // Cedar policies are parsed from the checkout; nothing is compiled into build/.
      return [];
    default: {
      const never: never = engine;
      throw new Error(`unknown policy engine ${String(never)}`);
    }
  }
}

async function list(dir: string, report: PruneReport): Promise<Dirent[] | null> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (e) {
    if (isMissing(e)) return [];
    report.failures.push(`cannot list ${dir}: ${firstLine(e)}`);
    return null;
  }
}

async function removeIfStale(path: string, staleBefore: number, report: PruneReport): Promise<void> {
  const mtimeMs = await mtimeOf(path);
  if (mtimeMs !== null && mtimeMs < staleBefore && (await remove(path, report))) report.temporary.push(path);
}

async function mtimeOf(path: string): Promise<number | null> {
  try {
    return (await stat(path)).mtimeMs;
  } catch {
    return null;
  }
}

async function remove(path: string, report: PruneReport): Promise<boolean> {
  try {
    await rm(path, { recursive: true, force: true });
    return true;
  } catch (e) {
    report.failures.push(`cannot remove ${path}: ${firstLine(e)}`);
    return false;
  }
}

function isMissing(e: unknown): boolean {
  return (e as { code?: unknown }).code === 'ENOENT';
}
