// Turns a session recording (audit/session-recording.ts) into what a psql user would have seen:
// timed frames of text, for playing back in a terminal or writing as an asciicast v2 file.

import type { RecordedValue, RecordingEvent } from './session-recording.ts';

/** Text that appeared at `t` seconds after the session started. */
export interface Frame {
  t: number;
  text: string;
}

function cell(v: RecordedValue): string {
  if (v === null) return '';
  if (typeof v === 'string') return v;
  return `\\x${Buffer.from(v.base64, 'base64').toString('hex')}`;
}

/** A psql-style aligned table (header, rule, rows) and its row count line. */
function table(names: string[], rows: RecordedValue[][], total: number): string {
  const cells = rows.map((r) => r.map(cell));
  const widths = names.map((n, i) => Math.max(n.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (values: string[]): string => ` ${values.map((v, i) => v.padEnd(widths[i] ?? 0)).join(' | ')}`.trimEnd();
  const rule = widths.map((w) => '-'.repeat(w + 2)).join('+');
  const count = total === rows.length ? `(${total} row${total === 1 ? '' : 's'})` : `(${total} rows, the first ${rows.length} recorded)`;
  return [line(names.map((n, i) => n.padStart(Math.floor(((widths[i] ?? 0) + n.length) / 2)))), rule, ...cells.map(line), count, ''].join('\n');
}

/** The frames of a recording, in order. Unknown event types (from a later version) are skipped. */
export function renderRecording(events: RecordingEvent[]): Frame[] {
  const frames: Frame[] = [];
  let who = 'agent';
  let columns: string[] | null = null;
  let rows: RecordedValue[][] = [];
  const at = (t: number): number => Math.round(t) / 1000;
  for (const e of events) {
    switch (e.type) {
      case 'session':
        who = e.name ?? e.subject ?? 'agent';
        frames.push({ t: 0, text: `-- Gatehouse session ${e.session_id}: ${who} (${e.application_name || 'no application name'}) from ${e.client_address || 'unknown'} to ${e.database}, ${e.started}\n` });
        break;
      case 'statement':
        columns = null;
        rows = [];
        frames.push({ t: at(e.t), text: `${who}=> ${e.statement}\n-- ${e.decision}: ${e.reason}\n` });
        break;
      case 'columns':
        columns = e.names;
        rows = [];
        break;
      case 'row':
        rows.push(e.values);
        break;
      case 'complete': {
        const text = columns !== null ? table(columns, rows, e.rows) : `${e.tag}\n`;
        frames.push({ t: at(e.t), text: `${text}\n` });
        columns = null;
        rows = [];
        break;
      }
      case 'error':
      case 'notice':
        frames.push({ t: at(e.t), text: `${e.severity || (e.type === 'error' ? 'ERROR' : 'NOTICE')}:  ${e.message}${e.sqlstate ? ` (SQLSTATE ${e.sqlstate})` : ''}\n\n` });
        columns = null;
        rows = [];
        break;
      case 'end':
        frames.push({ t: at(e.t), text: `-- session ended after ${at(e.t).toFixed(1)} s\n` });
        break;
      default:
        break;
    }
  }
  return frames;
}

/** Parses a recording file's text; lines that do not parse are skipped (a recording cut short). */
export function parseRecording(text: string): RecordingEvent[] {
  const events: RecordingEvent[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const e = JSON.parse(line) as RecordingEvent;
      if (e !== null && typeof e === 'object' && typeof e.type === 'string' && typeof e.t === 'number') events.push(e);
    } catch {
      // a torn last line
    }
  }
  return events;
}

/**
 * Frames with pauses longer than `maxPause` seconds shortened to it (as asciinema's
 * idle_time_limit), so a session that idled for an hour plays in seconds.
 */
export function capPauses(frames: Frame[], maxPause: number): Frame[] {
  const out: Frame[] = [];
  let shift = 0;
  let prev = 0;
  for (const f of frames) {
    const gap = f.t - prev;
    if (gap > maxPause) shift += gap - maxPause;
    prev = f.t;
    out.push({ t: Math.round((f.t - shift) * 1000) / 1000, text: f.text });
  }
  return out;
}

/** An asciicast v2 file (https://docs.asciinema.org/manual/asciicast/v2/): a header line, then [time, "o", text] events. */
export function asciicast(frames: Frame[], title: string, startedAt: Date, width = 120, height = 40): string {
  const header = { version: 2, width, height, timestamp: Math.floor(startedAt.getTime() / 1000), title, env: { TERM: 'xterm-256color' } };
  return [JSON.stringify(header), ...frames.map((f) => JSON.stringify([f.t, 'o', f.text.replace(/\r?\n/g, '\r\n')]))].join('\n') + '\n';
}
