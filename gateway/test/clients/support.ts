// Shared by the gateway/test/clients-*.test.ts files: checks that a real client is installed
// (failing with how to install it, never skipping) and reads the JSON report a client prints.

import { existsSync } from 'node:fs';
import type pg from 'pg';
import { it } from 'vitest';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/harness.ts';
import { runTool, type ToolResult } from '../support/run-tool.ts';

export const CLIENTS_DIR = join(REPO_ROOT, 'gateway/test/clients');
const INSTALL = 'bash scripts/ensure-clients.sh (what .ci/run does)';

/** Fails (with how to install it) when a client the tests drive is missing. */
export async function requireClient(what: string, probe: () => Promise<boolean>, manual: string): Promise<void> {
  let ok = false;
  try {
    ok = await probe();
  } catch {
    ok = false;
  }
  if (!ok) throw new Error(`Missing: ${what}. This client's transparency tests cannot run without it. Install it with ${INSTALL}, or by hand: ${manual}`);
}

/**
 * Missing clients fail every test of the file with how to install them (a failing beforeAll
 * would only show the tests as skipped). Call `require` first in beforeAll and return early
 * when `missing` is set; declare the tests with `gate.it`.
 */
export function clientGate(): {
  require: (what: string, probe: () => Promise<boolean>, manual: string) => Promise<void>;
  readonly missing: Error | null;
  it: (name: string, fn: () => unknown) => void;
} {
  let missing: Error | null = null;
  return {
    require: async (what, probe, manual) => {
      if (missing) return;
      await requireClient(what, probe, manual).catch((e: unknown) => {
        missing = e instanceof Error ? e : new Error(String(e));
      });
    },
    get missing() {
      return missing;
    },
    it: (name, fn) =>
      it(name, async () => {
        if (missing) throw missing;
        await fn();
      }),
  };
}

/** True when the command runs and exits 0. */
export async function runsOk(command: string, args: string[], cwd?: string): Promise<boolean> {
  if (command.startsWith('/') && !existsSync(command)) return false;
  const r = await runTool(command, args, { killAfterMs: 60_000, ...(cwd ? { cwd } : {}) });
  return r.code === 0;
}

/** The JSON document a client printed on its last non-empty line of standard output. */
export function reportOf<T>(name: string, r: ToolResult): T {
  const out = r.stdout.toString('utf8');
  if (r.code !== 0) throw new Error(`${name} exited with ${r.code}\n--- stderr ---\n${r.stderr}\n--- stdout ---\n${out}`);
  const line = out.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new Error(`${name} did not print a JSON report\n--- stderr ---\n${r.stderr}\n--- stdout ---\n${out}`);
  }
}

/** The phone mask: all but the last four characters starred. */
export const last4 = (v: string): string => '*'.repeat(v.length - 4) + v.slice(-4);

/** One row of clinical.patients as the client programs report it (dates as ISO strings). */
export interface Patient {
  id: number;
  mrn: string;
  first_name: string;
  last_name: string;
  ssn: string;
  phone: string;
  email: string;
  address: string;
  dob: string;  /** length(diagnosis_code): a column computed on unmasked data, exact through Gatehouse. */
  dx_len: number;
}

/**
 * Every patient's date_of_birth as the gateway returns it to `client` (an agent: masked with
 * fake_date), in id order: PostgreSQL's text form, or null where the value is withheld. Clients
 * compare what they received with this, so the test holds whichever form the mask takes.
 */
export async function datesOfBirthVia(client: pg.Client): Promise<Array<string | null>> {
  const asText = { getTypeParser: () => (v: string) => v };
  const r = await client.query({ text: 'SELECT date_of_birth FROM clinical.patients ORDER BY id', types: asText });
  return r.rows.map((row: { date_of_birth: string | null }) => row.date_of_birth);
}
