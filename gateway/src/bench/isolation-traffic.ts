// The well-behaved sessions of the isolation harness: each runs a fixed mix of allowed, masked and
// denied statements (simple and extended protocol) with a think time between them, and records
// each statement's latency and anything unexpected: a transport error, a wrong SQLSTATE, a denied
// statement that ran, a masked value that came back unmasked.

import pg from 'pg';

export type TrafficKind = 'allowed' | 'masked' | 'denied';

export interface TrafficRecorder {
  /** The phase a statement starting now belongs to. */
  phase(): string;
  sample(phase: string, kind: TrafficKind, ms: number): void;
  error(phase: string, message: string): void;
}

interface Step {
  kind: TrafficKind;
  /** Runs one statement; returns what was wrong with the outcome, or null. Throws transport errors. */
  run(client: pg.Client, n: number): Promise<string | null>;
}

/** Rows of the masked table (bench/masked-select.ts) and of pgbench_accounts at scale 1. */
const MASKED_ROWS = 100_000;
const ACCOUNTS = 100_000;

const sqlstate = (e: unknown): string | null => (typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string' ? e.code : null);

const allowedSimple: Step = {
  kind: 'allowed',
  run: async (client, n) => {
    const res = await client.query(`SELECT abalance FROM pgbench_accounts WHERE aid = ${(n % ACCOUNTS) + 1}`);
    return res.rows.length === 1 ? null : `allowed simple SELECT returned ${res.rows.length} rows`;
  },
};

const allowedExtended: Step = {
  kind: 'allowed',
  run: async (client) => {
    const res = await client.query({ text: 'SELECT bid, bbalance FROM pgbench_branches WHERE bid = $1', values: [1] });
    return res.rows.length === 1 ? null : `allowed extended SELECT returned ${res.rows.length} rows`;
  },
};

const masked: Step = {
  kind: 'masked',
  run: async (client, n) => {
    const res = await client.query<{ id: number; ssn: string | null; phone: string | null }>({
      text: 'SELECT id, ssn, phone FROM pgbench_masked_people WHERE id = $1',
      values: [(n % MASKED_ROWS) + 1],
    });
    const row = res.rows[0];
    if (row === undefined) return 'masked SELECT returned no row';
    if (row.ssn !== '***') return 'masked SELECT returned ssn unmasked';
    if (row.phone === null || !row.phone.startsWith('*')) return 'masked SELECT returned phone unmasked';
    return null;
  },
};

const denied: Step = {
  kind: 'denied',
  run: async (client) => {
    try {
      await client.query('UPDATE pgbench_branches SET bbalance = 0');
    } catch (e) {
      const code = sqlstate(e);
      if (code === '42501') return null;
      if (code === null) throw e;
      return `denied UPDATE failed with ${code} instead of 42501: ${e instanceof Error ? e.message : String(e)}`;
    }
    return 'an UPDATE without WHERE ran: the policy should deny it';
  },
};

/** Half allowed, three in ten masked, one in five denied. */
export const MIX: readonly Step[] = [allowedSimple, masked, allowedExtended, denied, masked, allowedSimple, allowedExtended, masked, denied, allowedSimple];

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface SessionOptions {
  index: number;
  connect: () => Promise<pg.Client>;
  /** Mean pause between statements (each pause is drawn from 0.5× to 1.5×). */
  thinkMs: number;
  running: () => boolean;
  recorder: TrafficRecorder;
}

/** Runs one session until `running()` turns false; reconnects (recording an error) when its connection fails. */
export async function runSession(options: SessionOptions, first: pg.Client): Promise<void> {
  const { recorder } = options;
  let client: pg.Client | null = first;
  let n = options.index * 7919;
  while (options.running()) {
    const step = MIX[n % MIX.length]!;
    const phase = recorder.phase();
    try {
      if (client === null) client = await options.connect();
      const started = performance.now();
      const problem = await step.run(client, n);
      recorder.sample(phase, step.kind, performance.now() - started);
      if (problem !== null) recorder.error(phase, problem);
    } catch (e) {
      recorder.error(phase, `${step.kind} statement: ${sqlstate(e) ?? 'no SQLSTATE'}: ${e instanceof Error ? e.message : String(e)}`);
      const broken = client;
      client = null;
      await broken?.end().catch(() => undefined);
      await sleep(100);
    }
    n++;
    await sleep(options.thinkMs * (0.5 + Math.random()));
  }
  await client?.end().catch(() => undefined);
}

/** Opens a client through the gateway (errors on an idle client are reported by the next query). */
export async function openClient(config: pg.ClientConfig): Promise<pg.Client> {
  const client = new pg.Client(config);
  client.on('error', () => undefined);
  await client.connect();
  return client;
}
