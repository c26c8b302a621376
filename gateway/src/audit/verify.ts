// Offline verification of audit logs: walks the hash chain across (rotated) files, checks each
// signed checkpoint against a trusted public key, and says where and how the log was altered or
// what part of it no signature protects.

import { readFileSync } from 'node:fs';
import { GENESIS, lineHash, type ChainHead } from './chain.ts';
import { checkCheckpoint, type CheckpointKey, type CheckpointPayload } from './checkpoint.ts';
import { isUnusedTail } from './unused-tail.ts';

export type FindingKind =
  | 'unparsable' // a line that is not a chained record (torn or edited beyond JSON)
  | 'edited' // a record whose line no longer hashes to what the next record names
  | 'deleted' // records missing from the sequence
  | 'inserted' // a line that repeats a sequence number already seen
  | 'reordered' // two records in the wrong order
  | 'wrong-key' // a checkpoint signed by another key than the trusted one
  | 'bad-signature' // a checkpoint whose signature does not verify
  | 'rewritten' // a validly signed checkpoint whose head no longer matches the records
  | 'gap' // a checkpoint missing from the chain of checkpoints
  | 'begins-late' // the files given do not start at the first record
  | 'unprotected' // records after the last valid checkpoint (a cut tail would look the same)
  | 'unsigned'; // no key given: checkpoints not checked

/** tampered: evidence of alteration; incomplete: integrity holds but the files cannot prove completeness. */
export type Severity = 'tampered' | 'incomplete';

export interface Finding {
  kind: FindingKind;
  severity: Severity;
  /** file:line where it was found (null for the log as a whole). */
  at: string | null;
  message: string;
}

export interface VerifyReport {
  files: string[];
  records: number;
  checkpoints: number;
  /** The last record a valid signature covers (0: none). */
  protectedThrough: number;
  lastSeq: number;
  findings: Finding[];
  status: 'ok' | Severity;
}

const SEVERITY: Record<FindingKind, Severity> = {
  unparsable: 'tampered',
  edited: 'tampered',
  deleted: 'tampered',
  inserted: 'tampered',
  reordered: 'tampered',
  'wrong-key': 'tampered',
  'bad-signature': 'tampered',
  rewritten: 'tampered',
  gap: 'tampered',
  'begins-late': 'incomplete',
  unprotected: 'incomplete',
  unsigned: 'incomplete',
};

export interface AuditLine {
  at: string;
  text: string;
  hash: string;
  seq: number | null;
  prev: string | null;
  type: string | null;
  record: Record<string, unknown> | null;
}

/** Verifies the log made of `files` (any order: sorted by their first record) against `key` (null: chain only). */
export async function verifyAuditFiles(files: string[], key: CheckpointKey | null): Promise<VerifyReport> {
  const perFile = files.map((f) => ({ file: f, lines: readLines(f) }));
  perFile.sort((a, b) => firstSeq(a.lines) - firstSeq(b.lines));
  return verifyAuditLines(
    perFile.map((f) => f.file),
    perFile.flatMap((f) => f.lines),
    key,
  );
}

/**
 * Verifies one chain given as its lines in order, each with where it is (`file:line`, or the row of
 * a table); `sources` names where they came from in the report.
 */
export async function verifyAuditLines(sources: string[], lines: AuditLine[], key: CheckpointKey | null): Promise<VerifyReport> {
  const findings: Finding[] = [];
  const add = (kind: FindingKind, at: string | null, message: string): void => {
    findings.push({ kind, severity: SEVERITY[kind], at, message });
  };

  const bySeq = new Map<number, AuditLine>();
  let expected: number | null = null;
  let prevHash: string | null = null;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.seq === null || l.prev === null) {
      add('unparsable', l.at, 'not a chained audit record (torn, or edited so it no longer parses)');
      continue;
    }
    if (expected === null) {
      if (l.seq !== 1 || l.prev !== GENESIS) add('begins-late', l.at, `the log given begins at seq ${l.seq}: the records before it are not in these files`);
    } else if (l.seq === expected) {
      if (l.prev !== prevHash) {
        const before = lines[i - 1];
        add('edited', before?.at ?? l.at, `seq ${l.seq - 1} was changed after it was written: seq ${l.seq} names another hash for it`);
      }
    } else if (l.seq > expected) {
      const next = lines[i + 1];
      if (next?.seq === expected) {
        add('reordered', l.at, `seq ${l.seq} stands before seq ${expected}`);
        bySeq.set(l.seq, l);
        bySeq.set(next.seq, next);
        expected = l.seq + 1;
        prevHash = l.hash;
        i++;
        continue;
      }
      add('deleted', l.at, l.seq - expected === 1 ? `seq ${expected} is missing before this line` : `seq ${expected}..${l.seq - 1} are missing before this line`);
    } else {
      const known = bySeq.get(l.seq);
      const before = lines[i - 1];
      if (before !== undefined && known === before && l.prev === lines[i - 2]?.hash) {
        add('inserted', before.at, `this line was inserted: the next line is seq ${l.seq} again and links to the line before it`);
      } else {
        add('inserted', l.at, `seq ${l.seq} appears again (expected ${expected}): an inserted or moved record`);
      }
    }
    if (!bySeq.has(l.seq)) bySeq.set(l.seq, l);
    expected = l.seq + 1;
    prevHash = l.hash;
  }

  // Checkpoints: each signature, what it covers, and the chain of checkpoints.
  const checkpoints = lines.filter((l) => l.type === 'checkpoint');
  let protectedThrough = 0;
  let previous: { line: AuditLine; head: ChainHead } | null = null;
  if (key === null && lines.length > 0) {
    // Without a key nothing is proven signed, also (above all) when the log holds no checkpoint at all.
    add('unsigned', null, checkpoints.length > 0 ? `no --key given: ${checkpoints.length} checkpoint signatures not checked` : 'no --key given, and the log holds no checkpoint: no record is signed');
  }
  for (const cp of checkpoints) {
    const jws = typeof cp.record?.['jws'] === 'string' ? (cp.record['jws'] as string) : '';
    let payload: CheckpointPayload | null = null;
    if (key !== null) {
      const check = await checkCheckpoint(jws, key);
      if (!check.ok) {
        if (check.why === 'wrong-key') add('wrong-key', cp.at, `checkpoint signed by key ${check.kid ?? '(no kid)'}, not by the trusted key ${key.kid}`);
        else add('bad-signature', cp.at, `checkpoint signature does not verify: ${check.message}`);
        continue;
      }
      payload = check.payload;
    } else {
      payload = decodePayload(jws);
      if (payload === null) continue;
    }
    const covers = cp.record?.['covers'] as ChainHead | undefined;
    if (covers?.seq !== payload.seq || covers.head !== payload.head) add('edited', cp.at, 'the checkpoint record does not repeat what its signature covers');
    // Nothing chains to the log's last line: a checkpoint's line must hold what the gateway writes, its time the signed one (R21c-6).
    else if (cp.record?.['time'] !== payload.time || !sameKeys(cp.record, CHECKPOINT_KEYS) || !sameKeys(covers as unknown as Record<string, unknown>, ['seq', 'head'])) add('edited', cp.at, 'the checkpoint record holds other fields or another time than its signature');
    const head = bySeq.get(payload.seq);
    if (head === undefined) {
      add('rewritten', cp.at, `the checkpoint covers seq ${payload.seq}, which is not in the log`);
    } else if (head.hash !== payload.head) {
      const from = previous === null ? 1 : previous.head.seq;
      add('rewritten', cp.at, `records seq ${from}..${payload.seq} were rewritten after this checkpoint signed them (seq ${payload.seq} at ${head.at} no longer hashes to the signed head)`);
    } else if (key !== null) {
      protectedThrough = Math.max(protectedThrough, payload.seq);
    }
    const expectedPrevious: ChainHead | null = previous === null ? null : { seq: previous.line.seq!, head: previous.line.hash };
    if (previous === null) {
      if (payload.previous !== null && !bySeq.has(payload.previous.seq)) {
        // The previous checkpoint lies before the files given (reported as begins-late), unless the log starts at 1.
        if (lines[0]?.seq === 1) add('gap', cp.at, `the checkpoint before this one (seq ${payload.previous.seq}) is missing`);
      }
    } else if (payload.previous === null || payload.previous.seq !== expectedPrevious!.seq || payload.previous.head !== expectedPrevious!.head) {
      add('gap', cp.at, `a checkpoint is missing before this one: it follows seq ${payload.previous?.seq ?? 'none'}, the log's previous checkpoint is seq ${expectedPrevious!.seq}`);
    }
    previous = { line: cp, head: { seq: payload.seq, head: payload.head } };
  }

  if (lines.length === 0) add('unprotected', null, 'the files hold no audit record: a log emptied would look the same');
  const lastSeq = lines.reduce((m, l) => Math.max(m, l.seq ?? 0), 0);
  const uncovered = lines.filter((l) => l.seq !== null && l.seq > protectedThrough && l.type !== 'checkpoint');
  if (uncovered.length > 0 && key !== null) {
    add(
      'unprotected',
      uncovered[0]!.at,
      protectedThrough === 0
        ? `${uncovered.length} records (seq ${uncovered[0]!.seq}..${uncovered.at(-1)!.seq}) and no valid checkpoint: chained, but no signature protects any of them, and a cut tail would look the same`
        : `${uncovered.length} records (seq ${uncovered[0]!.seq}..${uncovered.at(-1)!.seq}) come after the last valid checkpoint: no signature protects them, and a cut tail would look the same`,
    );
  }
  const status = findings.some((f) => f.severity === 'tampered') ? 'tampered' : findings.length > 0 ? 'incomplete' : 'ok';
  return { files: sources, records: lines.length, checkpoints: checkpoints.length, protectedThrough, lastSeq, findings, status };
}

function readLines(file: string): AuditLine[] {
  const text = readFileSync(file, 'utf8');
  const raw = text.split('\n');
  if (raw.at(-1) === '' || isUnusedTail(raw.at(-1)!)) raw.pop();
  return raw.map((t, i) => auditLine(t, `${file}:${i + 1}`));
}

/** One line of a chain as the verifier reads it. */
export function auditLine(t: string, at: string): AuditLine {
  {
    let record: Record<string, unknown> | null = null;
    try {
      const parsed: unknown = JSON.parse(t);
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) record = parsed as Record<string, unknown>;
    } catch {
      record = null;
    }
    const seq = typeof record?.['seq'] === 'number' ? (record['seq'] as number) : null;
    const prev = typeof record?.['prev'] === 'string' ? (record['prev'] as string) : null;
    const type = typeof record?.['type'] === 'string' ? (record['type'] as string) : null;
    return { at, text: t, hash: lineHash(t), seq, prev, type, record };
  }
}

/** The fields of a checkpoint line as the gateway writes it (audit/checkpoint.ts checkpointRecord, chained). */
const CHECKPOINT_KEYS = ['v', 'seq', 'prev', 'type', 'time', 'covers', 'jws'];

function sameKeys(record: Record<string, unknown> | null, keys: readonly string[]): boolean {
  const own = Object.keys(record ?? {});
  return own.length === keys.length && keys.every((k) => own.includes(k));
}

function firstSeq(lines: AuditLine[]): number {
  return lines.find((l) => l.seq !== null)?.seq ?? Number.MAX_SAFE_INTEGER;
}

function decodePayload(jws: string): CheckpointPayload | null {
  try {
    return JSON.parse(Buffer.from(jws.split('.')[1] ?? '', 'base64url').toString('utf8')) as CheckpointPayload;
  } catch {
    return null;
  }
}

/** Human-readable report: one line per finding, then a summary. */
export function formatReport(r: VerifyReport): string {
  const out = r.findings.map((f) => `${f.at ?? '(log)'}: ${f.severity === 'tampered' ? 'TAMPERED' : 'incomplete'}: ${f.kind}: ${f.message}`);
  const verdict = r.status === 'ok' ? 'OK' : r.status === 'tampered' ? 'TAMPERED' : 'INCOMPLETE';
  const unsigned = r.lastSeq - r.protectedThrough;
  out.push(
    `${verdict}: ${r.records} records in ${r.files.length} file(s), seq 1..${r.lastSeq}; ${r.checkpoints} checkpoints; signed through seq ${r.protectedThrough}` +
      (r.status !== 'tampered' && unsigned > 0 ? `; ${unsigned} records after it are chained but not signed` : ''),
  );
  return `${out.join('\n')}\n`;
}
