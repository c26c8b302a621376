// The audit keys a config names besides the signing key, opened at start: the break-glass key that
// seals statements as sent, and the subject key that hashes PHI subjects (audit.phi_tables).
import type { GatehouseConfig } from '../config/types.ts';
import type { Disclosures } from '../enforce/hidden-subjects.ts';
import { GatehouseError } from '../errors.ts';
import { createSealer, loadBreakGlassKeyFile, type Sealer } from './seal.ts';
import { openSubjectKey, subjectHasher } from './subjects.ts';

/** The sealer for audit.breakglass_key, or null without one; a key that cannot be used stops the start. */
export function breakGlassSealer(file: string | null): Sealer | null {
  if (file === null) return null;
  try {
    return createSealer(loadBreakGlassKeyFile(file));
  } catch (e) {
    throw new GatehouseError('CONFIG_INVALID', `audit.breakglass_key ${file}: ${(e as Error).message} (make one with: gatehouse audit keygen --breakglass --out DIR)`);
  }
}

/** audit.phi_tables with its key, or null without PHI tables; a key that cannot be read stops the start. */
export function disclosuresOf(config: GatehouseConfig, info: (message: string) => void): Disclosures | null {
  const tables = Object.entries(config.audit.phiTables ?? {});
  if (tables.length === 0) return null;
  const file = config.audit.subjectKeyFile ?? null;
  if (file === null) throw new GatehouseError('CONFIG_INVALID', 'audit.phi_tables needs audit.subject_key (a file of random bytes: openssl rand -out subject.key 32)');
  try {
    const { key, created } = openSubjectKey(file);
    if (created) info(`audit: created the subject key ${file} (keep it, and keep it secret: audit disclosures needs it)`);
    return { phi: new Map(tables), hash: subjectHasher(key), cap: config.audit.subjectsMax ?? 1000 };
  } catch (e) {
    throw new GatehouseError('CONFIG_INVALID', `audit.subject_key ${file}: ${(e as Error).message}`);
  }
}
