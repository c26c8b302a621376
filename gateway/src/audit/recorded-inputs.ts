// Recorded policy inputs for gated activation: the most recent distinct statements of the audit log
// (statement records keep the complete policy input, literals already replaced by placeholders), so
// that a candidate policy is also timed on what the gateway really sees, not only on its test cases.

import { open } from 'node:fs/promises';
import type { PolicyInput } from '../policy/types.ts';
import type { AuditRecord } from './types.ts';
import { dataEnd } from './unused-tail.ts';

/** How much of the log's end is read: enough for thousands of records, bounded whatever the log's size. */
const TAIL_BYTES = 8 * 1024 * 1024;

export interface RecordedInput {
  name: string;
  input: PolicyInput;
  /** The policies the record names as deciding (the evaluation budget's own id when it overran then). */
  decidedBy: readonly string[];
}

/**
 * Up to `count` policy inputs from the end of the audit log `file`, newest first, one per distinct
 * statement shape and identity (fingerprint, groups, roles). A missing file gives none; lines that
 * are not statement records with an input (or do not parse: a torn last line) are passed over.
 */
export async function recentRecordedInputs(file: string, count: number, tailBytes = TAIL_BYTES): Promise<RecordedInput[]> {
  if (count <= 0) return [];
  let text: string;
  try {
    text = await readTail(file, tailBytes);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const lines = text.split('\n');
  const seen = new Set<string>();
  const inputs: RecordedInput[] = [];
  for (let i = lines.length - 1; i >= 0 && inputs.length < count; i--) {
    const line = lines[i]!;
    if (!line.startsWith('{')) continue;
    let record: AuditRecord;
    try {
      record = JSON.parse(line) as AuditRecord;
    } catch {
      continue;
    }
    if (record.type !== 'statement' || record.input === null || typeof record.input !== 'object') continue;
    const id = record.input.identity;
    const key = JSON.stringify([record.fingerprint, [...(id?.groups ?? [])].sort(), [...(id?.roles ?? [])].sort()]);
    if (seen.has(key)) continue;
    seen.add(key);
    inputs.push({ name: `the recorded statement of decision ${record.decision_id} (${String(record.statement ?? '').slice(0, 80)})`, input: record.input, decidedBy: Array.isArray(record.policies) ? record.policies : [] });
  }
  return inputs;
}

/**
 * The last `bytes` of the file's data, from the first whole line on (all of it when smaller). The
 * data of a preallocated live log ends before its zero tail, which may be longer than `bytes`.
 */
async function readTail(file: string, bytes: number): Promise<string> {
  const handle = await open(file, 'r');
  try {
    const length = (await handle.stat()).size;
    const size = length === 0 ? 0 : dataEnd(file, length);
    const start = Math.max(0, size - bytes);
    const buffer = Buffer.alloc(size - start);
    await handle.read(buffer, 0, buffer.length, start);
    const text = buffer.toString('utf8');
    return start === 0 ? text : text.slice(text.indexOf('\n') + 1);
  } finally {
    await handle.close();
  }
}
