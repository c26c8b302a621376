// Session recordings: each session's statements (as the audit log records them: literals as $n),
// their decisions, and what the client received (columns, rows up to a cap, command tags, errors
// and notices, their quoted values blanked as in the audit log), in time order, one JSON event per line in <dir>/<session id>.ndjson. Taken from
// the bytes sent to the client, after masking: a recording holds what the client saw, never more.
// `gatehouse replay` (audit/replay.ts) plays it back.

import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { decodeCommandComplete, decodeDataRow, decodeErrorFields, decodeRowDescription } from '../wire/backend.ts';
import { BE } from '../wire/message-types.ts';
import { redactMessage } from './redact.ts';

/** A value as recorded: text when it is printable UTF-8, else its bytes (binary format) as base64. */
export type RecordedValue = string | null | { base64: string };

export type RecordingEvent =
  | { t: number; type: 'session'; session_id: string; started: string; subject: string | null; name: string | null; application_name: string; client_address: string; database: string; max_rows: number }
  | { t: number; type: 'statement'; decision_id: string; statement: string; decision: string; reason: string }
  | { t: number; type: 'columns'; names: string[] }
  | { t: number; type: 'row'; values: RecordedValue[] }
  | { t: number; type: 'complete'; tag: string; rows: number; recorded: number }
  | { t: number; type: 'error' | 'notice'; severity: string; sqlstate: string; message: string }
  | { t: number; type: 'end' };

export interface SessionRecorder {
  /** A statement decided (its text already redacted as in the audit log). */
  statement(e: { decision_id: string; statement: string; decision: string; reason: string }): void;
  /** One backend message exactly as sent to the client. */
  clientMessage(message: Buffer): void;
  close(): void;
}

export interface RecordingOptions {
  dir: string;
  /** Rows recorded per result set; the rest are counted (default 100). */
  maxRows?: number;
  /** Told when a recording cannot be written (the session goes on; recordings are not the audit log). */
  onProblem?: (message: string) => void;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

export function recordedValue(v: Buffer | null): RecordedValue {
  if (v === null) return null;
  const text = v.toString('utf8');
  return !CONTROL.test(text) && Buffer.byteLength(text) === v.length && !text.includes('\ufffd') ? text : { base64: v.toString('base64') };
}

export function openSessionRecorder(
  sessionId: string,
  meta: { subject: string | null; name: string | null; application_name: string; client_address: string; database: string },
  options: RecordingOptions,
): SessionRecorder {
  const maxRows = options.maxRows ?? 100;
  const started = Date.now();
  let out: WriteStream | null = null;
  let failed = false;
  const fail = (e: unknown): void => {
    if (failed) return;
    failed = true;
    options.onProblem?.(`session recording ${sessionId} stopped: ${(e as Error).message}`);
    out?.destroy();
    out = null;
  };
  try {
    mkdirSync(options.dir, { recursive: true, mode: 0o700 });
    out = createWriteStream(join(options.dir, `${sessionId.replace(/[^\w.-]/g, '_')}.ndjson`), { flags: 'a', mode: 0o600 });
    out.on('error', fail);
  } catch (e) {
    fail(e);
  }
  const write = (event: RecordingEvent): void => {
    if (out === null) return;
    out.write(`${JSON.stringify(event)}\n`);
  };
  const now = (): number => Date.now() - started;
  write({ t: 0, type: 'session', session_id: sessionId, started: new Date(started).toISOString(), ...meta, max_rows: maxRows });

  let rows = 0;
  let recorded = 0;
  return {
    statement(e) {
      write({ t: now(), type: 'statement', ...e });
    },
    clientMessage(message) {
      if (out === null || message.length < 5) return;
      const body = message.subarray(5);
      try {
        switch (message[0]) {
          case BE.RowDescription:
            rows = 0;
            recorded = 0;
            write({ t: now(), type: 'columns', names: decodeRowDescription(body).map((f) => f.name) });
            break;
          case BE.DataRow:
            rows++;
            if (recorded < maxRows) {
              recorded++;
              write({ t: now(), type: 'row', values: decodeDataRow(body).map(recordedValue) });
            }
            break;
          case BE.CommandComplete:
          case BE.PortalSuspended: // an Execute's row limit reached: its rows end here (tag SUSPENDED, as in its outcome record)
            write({ t: now(), type: 'complete', tag: message[0] === BE.PortalSuspended ? 'SUSPENDED' : decodeCommandComplete(body), rows, recorded });
            rows = 0;
            recorded = 0;
            break;
          case BE.ErrorResponse:
          case BE.NoticeResponse: {
            const f = decodeErrorFields(body);
            // Quoted values out, as in the audit log's outcomes: PostgreSQL echoes the literal a statement
            // sent (`invalid input syntax for type date: "..."`), which the recorded statement has as $n (R21d-3).
            write({ t: now(), type: message[0] === BE.ErrorResponse ? 'error' : 'notice', severity: f['S'] ?? '', sqlstate: f['C'] ?? '', message: redactMessage(f['M'] ?? '') });
            rows = 0;
            recorded = 0;
            break;
          }
          default:
            break;
        }
      } catch (e) {
        fail(e);
      }
    },
    close() {
      write({ t: now(), type: 'end' });
      out?.end();
      out = null;
    },
  };
}
