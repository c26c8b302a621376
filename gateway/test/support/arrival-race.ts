// A migration racing a statement sent through Gatehouse, made deterministic (the gateway runs without the
// lock poll, so the migration's lock is never seen by the decision), for the tests of locks on arrival
// (lock-on-arrival.test.ts, redteam-round18a.test.ts); the sessions of a race with a lock holder (lock-ahead,
// lock-prefix, red-team rounds 15-18a); and batches sent both ways over one session each.

import pg from 'pg';
import { expect } from 'vitest';
import { directSession } from './differential.ts';
import { OURS, until } from './migration-race.ts';
import { errorCodes, serialize, WireClient, type Message } from './wire-client.ts';

/** How many backends of the test's database wait for a lock on `relation`. */
export const waitingOn = (relation: string): string => `SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND relation = '${relation}'::regclass AND ${OURS}`;

/** What a race needs of its test. */
export interface RaceEnv {
  gateway: { port: number; upstreamUrl: string };
  direct: pg.Client;
  token: string;
}

/** One race: the migration's DDL (left uncommitted) on `relation`, its undo, and what the client sends. */
export interface Race {
  ddl: string;
  undo: string;
  relation: string;
  /** Sends through Gatehouse; resolves to the client's message groups. */
  send: (w: WireClient) => Promise<Message[][]>;
  /** How many groups answer the send (1 unless said). */
  ready?: number;
  /** Runs on the session before the migration starts (a statement prepared earlier). */
  before?: (w: WireClient) => Promise<void>;
}

/**
 * Runs `race`: when the client's messages wait for the migration on the server (the statement was not
 * locked ahead), the migration commits and is undone after, so the statement goes on, on the new
 * definition. Returns the client's message groups.
 */
export async function raceMigration(env: RaceEnv, race: Race): Promise<Message[][]> {
  const ready = race.ready ?? 1;
  const migration = new pg.Client({ connectionString: env.gateway.upstreamUrl });
  await migration.connect();
  migration.on('error', () => undefined);
  const w = await WireClient.connect(env.gateway.port, env.token);
  let groups: Message[][] = [];
  let committed = false;
  try {
    await race.before?.(w);
    await migration.query('BEGIN');
    await migration.query(race.ddl);
    const answered = race.send(w).then((g) => (groups = g));
    await until(env.direct, waitingOn(race.relation), () => groups.length >= ready);
    if (groups.length < ready) {
      await migration.query('COMMIT');
      committed = true;
    }
    await answered;
  } finally {
    w.close();
    await migration.query('ROLLBACK').catch(() => undefined);
    await migration.end();
    if (committed) await env.direct.query(race.undo);
  }
  return groups;
}

/** Two direct sessions playing other transactions (`holder` holds a row or lock, `migration` changes a relation) and a Gatehouse session. */
export interface RaceSessions {
  holder: pg.Client;
  migration: pg.Client;
  w: WireClient;
  /** Closes the Gatehouse session, rolls back what the direct ones left open and ends them. */
  end(): Promise<void>;
}

/** Opens the sessions of a race with a lock holder (end them in the test's `finally`). */
export async function openRaceSessions(env: Pick<RaceEnv, 'gateway' | 'token'>): Promise<RaceSessions> {
  const holder = new pg.Client({ connectionString: env.gateway.upstreamUrl });
  const migration = new pg.Client({ connectionString: env.gateway.upstreamUrl });
  await holder.connect();
  await migration.connect();
  migration.on('error', () => undefined);
  const w = await WireClient.connect(env.gateway.port, env.token);
  const end = async (): Promise<void> => {
    w.close();
    await holder.query('ROLLBACK').catch(() => undefined);
    await migration.query('ROLLBACK').catch(() => undefined);
    await holder.end();
    await migration.end();
  };
  return { holder, migration, w, end };
}

/** A race behind a relation held by another transaction (see raceBehindHeld). */
export interface BehindHeld {
  /** Run by the holder in its transaction, left uncommitted: a migration of `held` the poll has not seen. */
  hold: string;
  held: string;
  /** How the holder ends its transaction once the migration of `relation` is granted. */
  release: 'COMMIT' | 'ROLLBACK';
  /** Sent through Gatehouse in one write, ending with its Sync: something that waits for `held`, then a read of `relation`. */
  send: Buffer[];
  /** The migration of `relation` granted meanwhile (left uncommitted), and its undo. */
  ddl: string;
  undo: string;
  relation: string;
  /** Sent (with a Sync) and answered before the race: a statement prepared earlier. */
  prepare?: Buffer[];
}

/**
 * Another transaction holds `held` while `send` goes through Gatehouse in one write; a migration of
 * `relation` is granted meanwhile, then the holder ends. When the read of `relation` waits for its migration
 * (it was not locked ahead), that commits and is undone after. Returns the client's first message group.
 */
export async function raceBehindHeld(env: RaceEnv, r: BehindHeld): Promise<Message[]> {
  const { holder, migration, w, end } = await openRaceSessions(env);
  let groups: Message[][] = [];
  let committed = false;
  try {
    if (r.prepare !== undefined && r.prepare.length > 0) {
      w.send(...r.prepare, serialize.sync());
      await w.untilReady(1);
    }
    await holder.query('BEGIN');
    await holder.query(r.hold);
    w.send(...r.send);
    const answered = w.untilReady(1).then((g) => (groups = g));
    await until(env.direct, waitingOn(r.held), () => groups.length > 0); // what waits for `held`, locked by Gatehouse, is refused at once instead
    await migration.query('BEGIN');
    await migration.query(r.ddl); // granted at once: nothing holds `relation` yet
    await holder.query(r.release);
    await until(env.direct, waitingOn(r.relation), () => groups.length > 0);
    if (groups.length === 0) {
      await migration.query('COMMIT'); // the read of `relation` goes on, on the new definition
      committed = true;
    }
    await answered;
  } finally {
    await end();
    if (committed) await env.direct.query(r.undo);
  }
  return groups[0]!;
}

/** `group` is Gatehouse's refusal for a lock held elsewhere (55P03), with nothing of `secret` in it. */
export function expectLockRefusal(group: readonly Message[], secret: string): void {
  expect(JSON.stringify(group)).not.toContain(secret);
  expect(errorCodes([...group])).toEqual(['55P03']);
  expect((group.find((m) => m.name === 'error') as { message?: string }).message).toMatch(/^Gatehouse refused this statement: another transaction holds or waits for a lock/);
}

/** Sends each batch through one Gatehouse session and one direct session in turn; returns both answers of each. */
export async function batchesBothWays(gateway: { port: number; upstreamUrl: string }, token: string, batches: readonly Buffer[][]): Promise<{ gh: Message[][]; pg: Message[][] }[]> {
  const w = await WireClient.connect(gateway.port, token);
  const d = await directSession(gateway.upstreamUrl);
  const answers: { gh: Message[][]; pg: Message[][] }[] = [];
  try {
    for (const batch of batches) {
      const count = batch.filter((m) => m[0] === 0x53 || m[0] === 0x51).length;
      w.send(...batch);
      d.send(...batch);
      const [gh, pgAnswer] = await Promise.all([w.untilReady(count), d.untilReady(count)]);
      answers.push({ gh, pg: pgAnswer });
    }
  } finally {
    w.close();
    d.close();
  }
  return answers;
}
