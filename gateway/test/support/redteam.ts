// Red-team fixture: per describe block, a Gatehouse with the example HIPAA policies, a direct
// client to its upstream database, a token for an `agents` identity and the real SSNs to look for.

import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import type { EngineKind } from '../../src/policy/types.ts';
import { startTestGateway, type TestGateway } from './harness.ts';

export interface RedTeam {
  /** The following four are set in beforeAll. */
  readonly gateway: TestGateway;
  /** A client straight to the upstream database (bypassing Gatehouse). */
  readonly direct: pg.Client;
  /** A token for the red-team identity, member of `agents`. */
  readonly token: string;
  /** Every real SSN in clinical.patients. */
  readonly ssns: string[];
  /** Whether anything in `x` contains a real SSN. */
  leaks(x: unknown): boolean;
  /** A fresh agent session (so session state from one probe cannot affect the next). */
  agent(extra?: Partial<pg.ClientConfig>): Promise<pg.Client>;
}

export interface RedTeamOptions {
  /** Run on the direct client once the fixture is ready. */
  setupSql?: string;
  /** Run on the direct client before it is closed; its errors are ignored. */
  cleanupSql?: string;
}

/** Registers beforeAll/afterAll for the fixture in the current describe block; `subject` names the identity. */
export function useRedTeam(engine: EngineKind, subject: string, options: RedTeamOptions = {}): RedTeam {
  let t: TestGateway;
  let direct: pg.Client;
  let token: string;
  let ssns: string[];

  beforeAll(async () => {
    t = await startTestGateway({ engine });
    direct = new pg.Client({ connectionString: t.upstreamUrl });
    await direct.connect();
    token = await t.token(subject, ['agents']);
    ssns = (await direct.query('SELECT ssn FROM clinical.patients')).rows.map((r) => r.ssn as string);
    if (options.setupSql !== undefined) await direct.query(options.setupSql);
  });
  afterAll(async () => {
    if (options.cleanupSql !== undefined) await direct?.query(options.cleanupSql).catch(() => undefined);
    await direct?.end();
    await t?.close();
  });

  return {
    get gateway() {
      return t;
    },
    get direct() {
      return direct;
    },
    get token() {
      return token;
    },
    get ssns() {
      return ssns;
    },
    leaks: (x) => {
      const s = typeof x === 'string' ? x : JSON.stringify(x);
      return ssns.some((v) => s.includes(v));
    },
    agent: async (extra = {}) => t.client(token, extra),
  };
}

/** What a probe got back: its rows, or its SQLSTATE and message (with detail, hint and context). */
export interface ProbeOutcome {
  rows: unknown[];
  code: string | null;
  message: string | null;
}

/** Runs `sql` (with `values` bound, if any) and returns its rows or its error, never throwing. */
export async function probe(c: pg.Client, sql: string, values?: unknown[]): Promise<ProbeOutcome> {
  try {
    return { rows: (await c.query(sql, values)).rows, code: null, message: null };
  } catch (e) {
    const err = e as pg.DatabaseError;
    return { rows: [], code: err.code ?? 'no-sqlstate', message: [err.message, err.detail, err.hint, err.where].join(' | ') };
  }
}
