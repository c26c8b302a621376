// The audit record source over NDJSON log files: rotated files put in log order by the seq of their
// first record, whatever order they were named in, and read line by line.

import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { isUnusedTail } from './unused-tail.ts';
import { AuditSourceError, type AuditRecordSource, type LineScope, type SourceLine } from './record-source.ts';

/** The seq of a file's first record (MAX_SAFE_INTEGER when its first line has none). */
function firstSeqOf(file: string): number {
  const buffer = Buffer.alloc(64 * 1024);
  let n: number;
  try {
    const fd = openSync(file, 'r');
    try {
      n = readSync(fd, buffer, 0, buffer.length, 0);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    throw new AuditSourceError(`cannot read the audit file ${file}: ${(e as Error).message}`, { cause: e });
  }
  const first = buffer.subarray(0, n).toString('utf8').split('\n', 1)[0] ?? '';
  const match = /"seq":(\d+)/.exec(first);
  return match ? Number(match[1]) : Number.MAX_SAFE_INTEGER;
}

/** Rotated files in log order (by the seq of their first record), whatever order they were named in. */
export function inLogOrder(files: string[]): string[] {
  return files.map((file) => ({ file, seq: firstSeqOf(file) })).sort((a, b) => a.seq - b.seq).map((f) => f.file);
}

/** A quick test on the raw text, before parsing, that the line may be in scope. */
function mayBeInScope(text: string, scope: LineScope): boolean {
  if (scope.decisionId !== null && !text.includes(scope.decisionId)) return false;
  return scope.types.length === 0 || scope.types.some((t) => text.includes(`"type":"${t}"`));
}

export function auditFileSource(files: string[]): AuditRecordSource {
  return {
    name: files.join(', '),
    async *lines(scope: LineScope): AsyncGenerator<SourceLine> {
      for (const file of inLogOrder(files)) {
        const input = createReadStream(file, 'utf8');
        const opened = new Promise<void>((resolve, reject) => {
          input.once('ready', () => resolve());
          input.once('error', (e) => reject(new AuditSourceError(`cannot read the audit file ${file}: ${e.message}`, { cause: e })));
        });
        await opened;
        const lines = createInterface({ input, crlfDelay: Infinity });
        let n = 0;
        for await (const text of lines) {
          n++;
          if (isUnusedTail(text)) continue; // the zero tail of a log being written
          if (mayBeInScope(text, scope)) yield { text, at: `${file}:${n}` };
        }
      }
    },
  };
}
