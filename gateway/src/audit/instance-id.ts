// This gateway's name for its chain in a shared audit table: audit.instance when configured, else
// one generated at the first start and kept in <config dir>/.gatehouse/audit-instance, so that a
// restarted gateway continues its own chain.

import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';

export const INSTANCE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

/** The file a generated instance id is kept in. */
export function instanceIdFile(baseDir: string): string {
  return join(baseDir, '.gatehouse', 'audit-instance');
}

export function resolveAuditInstance(configured: string | null | undefined, baseDir: string): string {
  if (configured != null) return configured;
  const file = instanceIdFile(baseDir);
  try {
    const kept = readFileSync(file, 'utf8').trim();
    if (INSTANCE_PATTERN.test(kept)) return kept;
  } catch {
    // none yet
  }
  const host = hostname().toLowerCase().replace(/[^a-z0-9.-]/g, '-').replace(/^[^a-z0-9]+/, '').slice(0, 40);
  const id = `${host === '' ? 'gatehouse' : host}-${randomBytes(4).toString('hex')}`;
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${id}\n`, { mode: 0o644 });
  return id;
}
