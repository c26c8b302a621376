// `gatehouse replay`: plays a recorded session back as psql showed it, or writes it as asciicast.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { asciicast, capPauses, parseRecording, renderRecording } from '../audit/replay.ts';
import { UsageError, parseOptionsAndPositionals } from './args.ts';
import type { CliCommand } from './command.ts';

const HELP = `Usage: gatehouse replay <SESSION_ID | FILE> [--dir <dir>] [--speed <n>] [--asciicast <file>]

Plays back a session recorded with audit.recordings_dir: each statement (literals as $n, as in
the audit log) with its decision, then what the client received (columns and rows after
masking, up to audit.recording_max_rows per result, command tags, errors and notices), in
order, as psql would have shown it.

Options:
  --dir <dir>          where the recordings are (audit.recordings_dir), to find SESSION_ID
  --speed <n>          play at n times the recorded pace (1 = as it happened); 0 (default)
                       prints everything at once
  --max-pause <s>      shorten pauses longer than s seconds to s (default 2)
  --asciicast <file>   write an asciicast v2 file instead (asciinema play, or any player of
                       the format), with pauses shortened as --max-pause says
  -h, --help           show this help

Exit codes:
  0  played or written
  2  usage error, or no such recording

Examples:
  gatehouse replay 3f1c9a2e-5b7d-4c1e-9f0a-2b6d8e4c7a10 --dir /var/lib/gatehouse/recordings
  gatehouse replay recordings/3f1c9a2e-5b7d-4c1e-9f0a-2b6d8e4c7a10.ndjson --speed 2
  gatehouse replay 3f1c9a2e-5b7d-4c1e-9f0a-2b6d8e4c7a10 --dir recordings --asciicast session.cast
`;

function number(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new UsageError(`--${name} must be a number of at least 0, not '${value}'`);
  return n;
}

export const replayCommand: CliCommand = {
  name: 'replay',
  summary: 'Play back a recorded session as psql showed it, or export it as asciicast',
  help: HELP,
  async run(argv: string[]): Promise<number> {
    const { values, positionals } = parseOptionsAndPositionals(argv, {
      dir: { type: 'string' },
      speed: { type: 'string' },
      'max-pause': { type: 'string' },
      asciicast: { type: 'string' },
    });
    if (positionals.length !== 1) throw new UsageError('exactly one SESSION_ID or FILE is required');
    const speed = number('speed', values.speed, 0);
    const maxPause = number('max-pause', values['max-pause'], 2);
    const target = positionals[0]!;
    let file: string;
    if (existsSync(target)) file = target;
    else if (values.dir !== undefined) file = join(values.dir, `${target.replace(/[^\w.-]/g, '_')}.ndjson`);
    else throw new UsageError(`${target} is not a file; give the recordings directory with --dir to find a session by its id`);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new UsageError(`cannot read the recording ${file}: ${(e as Error).message}`);
    }
    const events = parseRecording(text);
    const session = events.find((e) => e.type === 'session');
    if (session === undefined) throw new UsageError(`${file} is not a session recording (no session event)`);
    const frames = capPauses(renderRecording(events), maxPause);
    if (values.asciicast !== undefined) {
      const title = `Gatehouse session ${session.session_id}`;
      writeFileSync(values.asciicast, asciicast(frames, title, new Date(session.started)));
      process.stderr.write(`wrote ${values.asciicast} (${frames.length} frames, ${(frames.at(-1)?.t ?? 0).toFixed(1)} s)\n`);
      return 0;
    }
    let prev = 0;
    for (const f of frames) {
      if (speed > 0 && f.t > prev) await sleep(((f.t - prev) * 1000) / speed);
      prev = f.t;
      process.stdout.write(f.text);
    }
    return 0;
  },
};
