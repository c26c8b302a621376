// The fixture of a red-team round's writers on the clinic database (red-team rounds 10, 17a, 18b, 19b,
// trigger-review-definition): a direct session with the round's tables made afresh, the teardown that
// drops them and stops the gateway, and the sessions of a race against a trigger function's replacement.

import { rmSync } from 'node:fs';
import pg from 'pg';
import type { TestGateway } from './harness.ts';

/** A direct session to `url` (as the test's superuser), with `cleanup` then `setup` run on it. */
export async function tablesAfresh(url: string, cleanup: string, setup: string): Promise<pg.Client> {
  const direct = new pg.Client({ connectionString: url });
  await direct.connect();
  await direct.query(cleanup);
  await direct.query(setup);
  return direct;
}

/** What a round made, each part possibly missing when its setup failed early. */
export interface WriterRound {
  writer?: pg.Client | undefined;
  /** Another session through the gateway (an agent beside the writer). */
  agent?: pg.Client | undefined;
  direct?: pg.Client | undefined;
  /** Drops the round's tables (run on `direct`). */
  cleanup: string;
  gateway?: TestGateway | undefined;
  /** The round's policy directory. */
  dir?: string | undefined;
}

/** Ends the writer (and the agent), drops the round's tables, ends the direct session, stops the gateway and removes the policies. */
export async function closeWriterRound(r: WriterRound): Promise<void> {
  await r.writer?.end().catch(() => undefined);
  await r.agent?.end().catch(() => undefined);
  await r.direct?.query(r.cleanup).catch(() => undefined);
  await r.direct?.end();
  await r.gateway?.close();
  if (r.dir) rmSync(r.dir, { recursive: true, force: true });
}

/**
 * The direct sessions of R18b-3's trigger race (`holder` holds the row the write waits for, `ddl` replaces
 * the function), for tests that drive the race step by step; support/trigger-race.ts runs the whole race.
 */
export interface TriggerRaceSessions {
  holder: pg.Client;
  ddl: pg.Client;
  connect(): Promise<void>;
  /** Rolls back the holder, puts the function back (`original`), and ends both and the writer `fresh`. */
  end(): Promise<void>;
}

/** The sessions of R18b-3's race on `url` beside the writer `fresh` (connect them in the test's `try`, end them in its `finally`). */
export function triggerRaceSessions(url: string, fresh: pg.Client, original: string): TriggerRaceSessions {
  const holder = new pg.Client({ connectionString: url });
  const ddl = new pg.Client({ connectionString: url });
  return {
    holder,
    ddl,
    connect: async () => {
      await holder.connect();
      await ddl.connect();
    },
    end: async () => {
      await holder.query('ROLLBACK').catch(() => undefined);
      await ddl.query(original).catch(() => undefined);
      await holder.end().catch(() => undefined);
      await ddl.end().catch(() => undefined);
      await fresh.end().catch(() => undefined);
    },
  };
}
