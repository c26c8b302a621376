// Accounting of disclosures: which data subjects (patients) a statement's rows belonged to, as keyed
// hashes (HMAC-SHA256 with audit.subject_key), capped and counted, for the outcome record. The raw
// subject value never leaves Gatehouse's memory: it is hashed here, and only the hash is recorded.

import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** The subjects of one PHI table in one statement's outcome. */
export type TableSubjects =
  /** The rows returned or written, exactly: `count` rows carried a subject (nulls are not counted), `hashes` the distinct ones (at most the cap). */
  | { status: 'listed'; hashes: string[]; count: number; truncated: boolean }
  /** The statement read or wrote the table in a way whose rows Gatehouse cannot attribute (an aggregate, a subquery, COPY, ...). */
  | { status: 'unknown'; reason: string };

export type SubjectsRecord = Record<string, TableSubjects>;

/** Hashes a subject's text form; the same key and value give the same hash in the log and in `audit disclosures`. */
export type SubjectHasher = (value: string) => string;

/** The key file's bytes (at least 16): a file of random bytes, e.g. `openssl rand -out subject.key 32`. */
export function readSubjectKey(file: string): Buffer {
  const key = readFileSync(file);
  if (key.length < 16) throw new Error(`${file} holds ${key.length} bytes; a subject key needs at least 16 (openssl rand -out ${file} 32)`);
  return key;
}

/**
 * The gateway's subject key: read, or created (32 random bytes, mode 0600) when the file does not
 * exist yet; `created` says which, so the operator log can say so.
 */
export function openSubjectKey(file: string): { key: Buffer; created: boolean } {
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, randomBytes(32), { mode: 0o600, flag: 'wx' });
    return { key: readSubjectKey(file), created: true };
  }
  return { key: readSubjectKey(file), created: false };
}

export function subjectHasher(key: Buffer): SubjectHasher {
  return (value) => createHmac('sha256', key).update(value, 'utf8').digest('hex');
}

/** Collects the subjects of one statement's rows, table by table. */
export class SubjectCollector {
  private readonly tables = new Map<string, { hashes: Set<string>; count: number; truncated: boolean }>();
  private readonly unknown = new Map<string, string>();

  constructor(
    private readonly hash: SubjectHasher,
    private readonly cap: number,
  ) {}

  /** A table whose subjects are not known for this statement. */
  markUnknown(table: string, reason: string): void {
    if (!this.tables.has(table)) this.unknown.set(table, reason);
  }

  /** A table whose rows are listed (possibly none). */
  expect(table: string): void {
    this.unknown.delete(table);
    if (!this.tables.has(table)) this.tables.set(table, { hashes: new Set(), count: 0, truncated: false });
  }

  /** One row's subject value (its text form) for `table`; null (an outer join's missing side) counts nothing. */
  add(table: string, value: Buffer | null): void {
    if (value === null) return;
    this.expect(table);
    const t = this.tables.get(table)!;
    t.count++;
    const h = this.hash(value.toString('utf8'));
    if (t.hashes.has(h)) return;
    if (t.hashes.size >= this.cap) t.truncated = true;
    else t.hashes.add(h);
  }

  /** The record's `subjects`, or null when the statement touched no PHI table. */
  record(): SubjectsRecord | null {
    if (this.tables.size === 0 && this.unknown.size === 0) return null;
    const out: SubjectsRecord = {};
    for (const [table, reason] of this.unknown) out[table] = { status: 'unknown', reason };
    for (const [table, t] of this.tables) out[table] = { status: 'listed', hashes: [...t.hashes], count: t.count, truncated: t.truncated };
    return out;
  }
}
