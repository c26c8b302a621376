// Small helpers shared by CLI verbs: parse options with node:util parseArgs and report usage errors uniformly.

import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';

/** Thrown for a command-line mistake; main prints it as one line plus where help is, and exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * A usage error as psql and opa print it: one line saying what is wrong, one saying where the help
 * is. `command` is what follows "gatehouse" ("token", "policy diff", or "" for gatehouse itself).
 */
export function usageErrorText(command: string, message: string): string {
  const name = command === '' ? 'gatehouse' : `gatehouse ${command}`;
  return `${name}: ${message}\nTry '${name} --help' for more information.\n`;
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** Strict parse that takes positionals (unknown options are usage errors). */
export function parseOptionsAndPositionals<T extends Options>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: true });
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
}

/** Strict parse (unknown options and positionals are usage errors). */
export function parseOptions<T extends Options>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
}

/** An integer option within [min, max]. */
export function integerOption(name: string, value: string, min: number, max: number): number {
  if (!/^-?\d+$/.test(value)) throw new UsageError(`--${name} must be an integer, not '${value}'`);
  const n = Number(value);
  if (n < min || n > max) throw new UsageError(`--${name} must be between ${min} and ${max}`);
  return n;
}

/** "90", "90s", "15m", "12h", "7d" → seconds. */
export function durationOption(name: string, value: string): number {
  const match = /^(\d+)([smhd]?)$/.exec(value.trim());
  if (match === null) throw new UsageError(`--${name} must be a duration like 3600, 90s, 15m, 12h or 7d, not '${value}'`);
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[match[2] as '' | 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}

/** "a,b, c" → ["a", "b", "c"]. */
export function listOption(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/**
 * Where an audit command reads records (besides FILE arguments): the audit table of sink postgres.
 * `--postgres-table` is the config's audit.postgres_table (`audit query` has its own --table filter).
 */
export const AUDIT_TABLE_OPTIONS = {
  postgres: { type: 'string' },
  'postgres-table': { type: 'string' },
  instance: { type: 'string', multiple: true },
} as const;

/** --since and --until of the audit commands (parsed with timeOption). */
export const TIME_RANGE_OPTIONS = {
  since: { type: 'string' },
  until: { type: 'string' },
} as const;

const AGO = /^(\d+)(s|m|h|d)$/;
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** An ISO 8601 date or time, or a duration before `now` (30m, 24h, 7d); null when not given. */
export function timeOption(option: string, value: string | undefined, now = Date.now()): Date | null {
  if (value === undefined) return null;
  const d = AGO.exec(value);
  if (d) return new Date(now - Number(d[1]) * UNIT_MS[d[2] as keyof typeof UNIT_MS]);
  if (/^\d{4}-\d{2}-\d{2}/.test(value)) {
    const t = Date.parse(value);
    if (!Number.isNaN(t)) return new Date(t);
  }
  throw new UsageError(`--${option} ${JSON.stringify(value)} is neither an ISO 8601 date or time (2026-12-01, 2026-12-01T08:00:00Z) nor a duration (30m, 24h, 7d)`);
}
