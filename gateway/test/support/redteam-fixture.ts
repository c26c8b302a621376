// Red-team fixture for the tests that attack user code and catalog changes: for one engine, a seeded
// clinic database (the shared test database or one of the test's own) holding the objects the test
// makes on it directly, a Gatehouse with the example policies (plus schema-admins rules for tests that
// change the schema through it), an agent session whose notices are heard, optionally a schema-admin
// session, and teardown. Used by redteam-round12..14, implicit-user-code, catalog-after-ddl and
// write-triggers; redteam.ts serves the rounds that need only the example policies and a token.

import { rmSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import type { EngineKind } from '../../src/policy/types.ts';
import { attempt, NoticeLog, type Outcome } from './attempt.ts';
import { ensureClinicDatabase, startTestGateway, TEST_DB, type TestGateway, type TestGatewayOptions } from './harness.ts';
import { schemaAdminsPolicies } from './schema-admins-policy.ts';
import { untilCatalogRead } from './migration-race.ts';
import { nonSuperuserUpstream } from './upstream-role.ts';

export interface RedTeamFixtureOptions {
  engine: EngineKind;
  /** A clinic database of the test's own, `${TEST_DB}_${database}`, for objects other test files must not meet; default the shared TEST_DB. */
  database?: string;
  /** Schema-admins rules added to the example policies (schema-admins-policy.ts): their rule id and the prefix of what agents may read; without them, the example policies alone. */
  policies?: { ruleId: string; agentTablePrefix: string };
  /** Run on the direct client before the gateway starts (so the first catalog read holds it), after `cleanup`. */
  setup?: string;
  /** Run on the direct client before `setup` (a previous run's leftovers) and at close (errors ignored there). */
  cleanup?: string;
  /** The agent session's identity. */
  agent: { subject: string; groups: string[] };
  /** The subject of a session in group schema-admins; without it the fixture opens none. */
  admin?: string;
  /**
   * Gatehouse connects upstream as a role that is not a superuser and owns none of the fixtures
   * (support/upstream-role.ts; `direct` stays the administrator): a test whose masked writes fire user
   * triggers needs it, since Gatehouse refuses those when its own role could replace the functions (issue 6).
   * Granted after `setup`. Default: postgres, a superuser.
   */
  nonSuperuserUpstream?: true;
  /** More gateway options (catalog timing, ...). */
  gateway?: Omit<TestGatewayOptions, 'engine' | 'policiesDir' | 'upstreamUrl'>;
}

/** What the tests use, live once the fixture has started. */
export interface RedTeamSessions {
  readonly gateway: TestGateway;
  /** A client straight to the upstream database (bypassing Gatehouse). */
  readonly direct: pg.Client;
  /** The schema-admins session (throws when the options named no admin). */
  readonly admin: pg.Client;
  /** The agent session; its notices are in every outcome of `attempt`. */
  readonly agent: pg.Client;
  /** The real SSN of patient 1, to look for in whatever an attempt got back. */
  readonly ssn: string;
  /** Runs `sql` on `client`: rows or error, with the agent's notices heard meanwhile (attempt.ts). */
  attempt(client: pg.Client, sql: string | pg.QueryConfig): Promise<Outcome>;
  /** The agent's statement in a transaction block that is rolled back. */
  inBlock(sql: string | pg.QueryConfig): Promise<Outcome>;
}

export interface RedTeamFixture extends RedTeamSessions {
  /** Closes the gateway (and its sessions), removes the policies, runs `cleanup`, ends the direct client. */
  close(): Promise<void>;
}

/** Starts the fixture; on a failure part way, closes what it had opened and rethrows. */
export async function startRedTeamFixture(options: RedTeamFixtureOptions): Promise<RedTeamFixture> {
  const undo: Array<() => Promise<void>> = []; // run last-first at close
  const close = async (): Promise<void> => {
    let first: unknown = null;
    for (const step of undo.splice(0).reverse()) {
      await step().catch((e: unknown) => void (first ??= e));
    }
    if (first !== null) throw first;
  };
  try {
    const upstreamUrl = await ensureClinicDatabase(options.database === undefined ? TEST_DB : `${TEST_DB}_${options.database}`);
    const direct = new pg.Client({ connectionString: upstreamUrl });
    await direct.connect();
    undo.push(() => direct.end());
    const { cleanup } = options;
    if (cleanup !== undefined) {
      await direct.query(cleanup);
      undo.push(async () => void (await direct.query(cleanup).catch(() => undefined)));
    }
    if (options.setup !== undefined) await direct.query(options.setup);
    const ssn = ((await direct.query('SELECT ssn FROM clinical.patients WHERE id = 1')).rows[0] as { ssn: string }).ssn;
    let policiesDir: string | undefined;
    if (options.policies !== undefined) {
      const dir = schemaAdminsPolicies(options.engine, options.policies.ruleId, options.policies.agentTablePrefix);
      undo.push(async () => rmSync(dir, { recursive: true, force: true }));
      policiesDir = dir;
    }
    const gatewayUpstream = options.nonSuperuserUpstream === true ? await nonSuperuserUpstream(upstreamUrl) : upstreamUrl;
    const gateway = await startTestGateway({ ...options.gateway, engine: options.engine, upstreamUrl: gatewayUpstream, ...(policiesDir === undefined ? {} : { policiesDir }) });
    undo.push(() => gateway.close());
    const admin = options.admin === undefined ? null : await gateway.client(await gateway.token(options.admin, ['schema-admins']));
    const notices = new NoticeLog();
    const agent = notices.watch(await gateway.client(await gateway.token(options.agent.subject, options.agent.groups)));
    const attemptOn = (client: pg.Client, sql: string | pg.QueryConfig): Promise<Outcome> => attempt(notices, client, sql);
    return {
      gateway,
      direct,
      get admin(): pg.Client {
        if (admin === null) throw new Error('this red-team fixture has no admin session: name one in options.admin');
        return admin;
      },
      agent,
      ssn,
      attempt: attemptOn,
      inBlock: async (sql) => {
        await agent.query('BEGIN');
        const o = await attemptOn(agent, sql);
        await agent.query('ROLLBACK');
        return o;
      },
      close,
    };
  } catch (e) {
    await close().catch(() => undefined);
    throw e;
  }
}

/**
 * Registers beforeAll/afterAll that start and close the fixture in the current describe block; what it
 * returns is live from that beforeAll on (`attempt` and `inBlock` may be taken at once). A test whose
 * bodies name the sessions binds them in a beforeAll registered after this call.
 */
export function useRedTeamFixture(options: RedTeamFixtureOptions): RedTeamSessions {
  let fx: RedTeamFixture | undefined;
  const started = (): RedTeamFixture => {
    if (fx === undefined) throw new Error('the red-team fixture has not started: use it in tests and in hooks registered after useRedTeamFixture');
    return fx;
  };
  beforeAll(async () => {
    fx = await startRedTeamFixture(options);
  });
  afterAll(async () => {
    await fx?.close();
  });
  return {
    get gateway() {
      return started().gateway;
    },
    get direct() {
      return started().direct;
    },
    get admin() {
      return started().admin;
    },
    get agent() {
      return started().agent;
    },
    get ssn() {
      return started().ssn;
    },
    attempt: (client, sql) => started().attempt(client, sql),
    inBlock: (sql) => started().inBlock(sql),
  };
}

/**
 * Registers a beforeAll and a beforeEach (after those registered before it) that wait until the agent's
 * statements are decided with a catalog read after the last change: the agent runs `probe` until it is
 * not refused (on a loaded machine a read owed after a schema change can take a while). Returns the wait.
 */
export function useCatalogReadBeforeEach(rt: RedTeamSessions, probe: string): () => Promise<void> {
  const catalogRead = (): Promise<void> => untilCatalogRead(() => rt.attempt(rt.agent, probe));
  beforeAll(() => catalogRead(), 60_000);
  beforeEach(() => catalogRead(), 60_000);
  return catalogRead;
}
