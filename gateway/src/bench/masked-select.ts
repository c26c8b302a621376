// The cost of masking at the source: one 100,000-row SELECT with three masked columns through
// Gatehouse, against the same SELECT unmasked through Gatehouse, interleaved in one run, with
// pgbench as the client (a custom script, one client, a fixed transaction count). Two sets of
// masks: with a keyed hash (redact, hash, last4) and with strategies that need no key (redact,
// null, last4), so that the keyed function's own cost shows.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { type ImplementationReport, setupMaskFunctions } from '../db/setup.ts';
import { runPgbench } from './pgbench.ts';

export const MASKED_TABLE = 'public.pgbench_masked_people';
export const MASKED_ROWS = 100_000;

/** One set of masks measured against the unmasked SELECT. */
export interface MaskedVariant {
  /** What distinguishes this set, e.g. "with a keyed hash". */
  label: string;
  maskedColumns: string[];
  /** Average latency of the whole SELECT (all rows received), per pass, in ms. */
  maskedMs: number[];
  /** Median masked / median unmasked. */
  ratio: number | null;
}

export interface MaskedSelectTiming {
  rows: number;
  /** What computed the keyed hash: "C extension gatehouse_mask 1.0" or "PL/pgSQL (why)"; absent in older results. */
  keyedHash?: string;
  /** Average latency of the whole SELECT (all rows received), per pass, in ms. */
  unmaskedMs: number[];
  variants: MaskedVariant[];
}

/** The sets of masks the bench measures, by the group the bench policies mask them for (policies/{rego,cedar}/bench.*). */
export const MASK_VARIANTS: ReadonlyArray<{ label: string; group: string; maskedColumns: string[] }> = [
  { label: 'with a keyed hash', group: 'bench_masked', maskedColumns: ['ssn (redact)', 'email (hash)', 'phone (last4)'] },
  { label: 'no keyed strategy', group: 'bench_masked_unkeyed', maskedColumns: ['ssn (redact)', 'email (null)', 'phone (last4)'] },
];

/** "C extension gatehouse_mask 1.0" or "PL/pgSQL (why)": for the report. */
export function describeImplementation(report: ImplementationReport): string {
  switch (report.kind) {
    case 'c':
      return `C extension gatehouse_mask ${report.version}`;
    case 'plpgsql':
      return `PL/pgSQL (${report.why})`;
    default: {
      const never: never = report;
      throw new Error(`unknown implementation ${String(never)}`);
    }
  }
}

/** Creates the table (once) and the masking functions in the bench database; says which implementation they are. */
export async function prepareMaskedTable(url: string): Promise<ImplementationReport> {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    const exists = await db.query('SELECT count(*)::int AS n FROM pg_class WHERE oid = to_regclass($1)', [MASKED_TABLE]);
    if (exists.rows[0].n === 0) {
      await db.query(`CREATE TABLE ${MASKED_TABLE} (id int PRIMARY KEY, name text, ssn text, email text, phone text, note text)`);
      await db.query(
        `INSERT INTO ${MASKED_TABLE}
         SELECT g, 'person ' || g, lpad((g % 1000)::text, 3, '0') || '-' || lpad((g % 100)::text, 2, '0') || '-' || lpad(g::text, 4, '0'),
                'p' || g || '@example.com', '+1 617 555 ' || lpad((g % 10000)::text, 4, '0'), repeat('x', 20)
           FROM generate_series(1, $1) g`,
        [MASKED_ROWS],
      );
      await db.query(`ANALYZE ${MASKED_TABLE}`);
    }
    const setup = await setupMaskFunctions(db, { grantTo: (await db.query<{ u: string }>('SELECT current_user AS u')).rows[0]!.u });
    return setup.implementation;
  } finally {
    await db.end();
  }
}

const median = (xs: number[]): number | null => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

/** Runs `passes` interleaved rounds of pgbench runs (`transactions` SELECTs each): unmasked, then each masked identity. */
export async function measureMaskedSelect(options: {
  gatewayUrl: string;
  unmaskedToken: string;
  /** One token per entry of MASK_VARIANTS, in that order (a member of its group). */
  maskedTokens: string[];
  passes: number;
  transactions: number;
}): Promise<MaskedSelectTiming> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-bench-mask-'));
  const script = path.join(dir, 'select.sql');
  await writeFile(script, `SELECT * FROM ${MASKED_TABLE};\n`);
  const run = async (token: string): Promise<number | null> => {
    const r = await runPgbench({
      args: ['-n', '-c', '1', '-t', String(options.transactions), '-M', 'extended', '-f', script, options.gatewayUrl],
      env: { ...process.env, PGPASSWORD: token },
      killAfterMs: 600_000,
    });
    return r.summary?.latencyAverageMs ?? null;
  };
  const unmaskedMs: number[] = [];
  const maskedMs: number[][] = MASK_VARIANTS.map(() => []);
  try {
    for (let i = 0; i < options.passes; i++) {
      const plain = await run(options.unmaskedToken);
      if (plain !== null) unmaskedMs.push(plain);
      for (const [v, token] of options.maskedTokens.entries()) {
        const masked = await run(token);
        if (masked !== null) maskedMs[v]!.push(masked);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const u = median(unmaskedMs);
  const variants = MASK_VARIANTS.map(({ label, maskedColumns }, v) => {
    const m = median(maskedMs[v]!);
    return { label, maskedColumns, maskedMs: maskedMs[v]!, ratio: m !== null && u !== null && u > 0 ? m / u : null };
  });
  return { rows: MASKED_ROWS, unmaskedMs, variants };
}
