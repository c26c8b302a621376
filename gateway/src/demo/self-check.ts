// `gatehouse demo --self-check`: runs the suggested queries through the gateway with node-postgres
// (simple and extended protocol), compares with the data read directly, and reports each outcome.
import pg from 'pg';
import { DENIED_SQLSTATE, PATIENT_IDENTIFIERS, PATIENT_LIST, SUGGESTED_QUERIES } from './demo-queries.ts';
import type { Expectation } from './demo-queries.ts';

type Row = Record<string, unknown>;

export interface SelfCheckInput {
  host: string;
  port: number;
  agentToken: string;
  breakglassToken: string;
  /** The rows each SELECT returns when read directly from the database, keyed by SQL text. */
  raw: ReadonlyMap<string, Row[]>;
  print: (line: string) => void;
}

interface Outcome {
  ok: boolean;
  summary: string;
}

type QueryResult = { rows: Row[] } | { error: { code: string; message: string } };

export async function runSelfCheck(input: SelfCheckInput): Promise<boolean> {
  const { print } = input;
  let allOk = true;
  const report = (label: string, sql: string, outcome: Outcome): void => {
    allOk &&= outcome.ok;
    print(`  ${outcome.ok ? 'PASS' : 'FAIL'}  ${label.padEnd(10)} ${sql}`);
    print(`        -> ${outcome.summary}`);
  };

  print('self-check as agent (group agents):');
  const agent = await connect(input, 'agent', input.agentToken);
  try {
    for (const query of SUGGESTED_QUERIES) {
      const result = await run(agent, query.sql);
      report(query.expect, query.sql, judge(query.expect, result, input.raw.get(query.sql) ?? []));
    }
    // The extended protocol must reach the same decisions as the simple one.
    const byId = 'SELECT id, diagnosis_code FROM clinical.patients WHERE id = $1';
    report('allow/ext', `${byId}  [$1 = 1]`, judge('allow', await run(agent, byId, [1]), (input.raw.get(PATIENT_LIST) ?? []).slice(0, 1)));
    const idsById = 'SELECT first_name, ssn, phone FROM clinical.patients WHERE id = $1';
    report('mask/ext', `${idsById}  [$1 = 1]`, judge('mask', await run(agent, idsById, [1]), (input.raw.get(PATIENT_IDENTIFIERS) ?? []).slice(0, 1)));
  } finally {
    await agent.end().catch(() => undefined);
  }

  print('self-check as oncall (group breakglass):');
  const breakglass = await connect(input, 'oncall', input.breakglassToken);
  try {
    const result = await run(breakglass, PATIENT_IDENTIFIERS);
    report('unmasked', PATIENT_IDENTIFIERS, judge('allow', result, input.raw.get(PATIENT_IDENTIFIERS) ?? []));
  } finally {
    await breakglass.end().catch(() => undefined);
  }
  return allOk;
}

async function connect(input: SelfCheckInput, user: string, token: string): Promise<pg.Client> {
  const client = new pg.Client({
    host: input.host,
    port: input.port,
    user,
    password: token,
    database: 'postgres',
    ssl: false,
    connectionTimeoutMillis: 15_000,
    query_timeout: 30_000,
    application_name: 'gatehouse-demo-self-check',
  });
  await client.connect();
  return client;
}

async function run(client: pg.Client, sql: string, params?: unknown[]): Promise<QueryResult> {
  try {
    const result = await client.query<Row>(sql, params);
    return { rows: result.rows };
  } catch (error) {
    const e = error as { code?: unknown; message?: unknown };
    return { error: { code: typeof e.code === 'string' ? e.code : '?????', message: String(e.message ?? error) } };
  }
}

/** Compares what came back through Gatehouse with what the database holds. */
function judge(expect: Expectation, result: QueryResult, raw: Row[]): Outcome {
  if ('error' in result) {
    const summary = `ERROR ${result.error.code}: ${result.error.message}`;
    return { ok: expect === 'deny' && result.error.code === DENIED_SQLSTATE, summary };
  }
  const { rows } = result;
  switch (expect) {
    case 'deny':
      return { ok: false, summary: `expected ERROR ${DENIED_SQLSTATE}, got ${rows.length} row(s)` };
    case 'allow': {
      const same = rows.length === raw.length && rows.every((row, i) => sameRow(row, raw[i]));
      return { ok: same && rows.length > 0, summary: `${rows.length} row(s), ${same ? 'identical to the stored data' : 'DIFFERENT from the stored data'}; first: ${show(rows[0])}` };
    }
    case 'mask': {
      const columns = Object.keys(rows[0] ?? {});
      const masked = columns.filter((c) => rows.every((row, i) => !sameValue(row[c], raw[i]?.[c])));
      const clear = columns.filter((c) => !masked.includes(c));
      // The SSN is the identifier every masking policy must cover.
      const ok = rows.length === raw.length && rows.length > 0 && masked.includes('ssn');
      return {
        ok,
        summary: `${rows.length} row(s); masked: ${masked.join(', ') || 'none'}; in clear: ${clear.join(', ') || 'none'}; first: ${show(rows[0])}`,
      };
    }
    default: {
      const never: never = expect;
      throw new Error(`unknown expectation ${String(never)}`);
    }
  }
}

function sameValue(a: unknown, b: unknown): boolean {
  return String(a) === String(b);
}

function sameRow(a: Row, b: Row | undefined): boolean {
  if (b === undefined) return false;
  const keys = Object.keys(b);
  return Object.keys(a).length === keys.length && keys.every((k) => sameValue(a[k], b[k]));
}

function show(row: Row | undefined): string {
  if (row === undefined) return '(none)';
  return Object.entries(row)
    .map(([k, v]) => `${k}=${v === null ? 'NULL' : String(v)}`)
    .join(' ');
}
