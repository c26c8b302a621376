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
