// Schema changes made through other Gatehouse instances serving the same database, learnt at once
// instead of at the next 30 s read: every instance LISTENs on one channel over a connection of its own
// (`application_name` gatehouse-catalog:peers), and NOTIFYs it after each schema change made through it
// (pg/catalog.ts changed()). A notification is delivered only once the notifying transaction commits,
// and PostgreSQL delivers it to every listener of the database, this instance's own connection included
// (ignored by its payload: the instance's random id).
//
// A lost connection is opened again (1 s, doubling up to 30 s); notifications sent meanwhile are lost,
// so a reconnect counts as a change. Anyone who can connect to the database can NOTIFY the channel: which
// notifications statements wait for is pg/catalog-peer-gate.ts's decision (R14-4: a flood of them refreshes
// in the background); this instance's own are told by the sender's backend pid as well as by the payload.

import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { DEFAULT_PEER_BUDGET, PeerNotificationGate, type PeerBudget, type PeerSender } from './catalog-peer-gate.ts';

/** The channel every instance listens on and notifies (per database: NOTIFY does not cross databases). */
export const CATALOG_CHANNEL = 'gatehouse_catalog_changed';

/** The application_name of every instance's listening connection (how a peer's notification is told). */
export const PEERS_APPLICATION_NAME = 'gatehouse-catalog:peers';

/**
 * The backends among $2 and every other instance's listening connection: a peer is one logged in as this
 * connection's role (what a role outside Gatehouse cannot choose) with the peers' application_name (what
 * anyone can). pg_stat_activity shows pid, role and application_name of every backend to every role.
 */
const SENDERS = `SELECT a.pid, a.usename::text AS role, coalesce(a.application_name, '') AS app,
       (a.usename = session_user AND a.application_name = $1) AS peer
  FROM pg_catalog.pg_stat_activity a
 WHERE a.pid = ANY($2::int[]) OR (a.usename = session_user AND a.application_name = $1 AND a.pid <> pg_catalog.pg_backend_pid())`;

const MIN_RETRY_MS = 1_000;
const MAX_RETRY_MS = 30_000;

export interface CatalogPeersOptions {
  connectionString: string;
  /** null: the connection string's database. */
  database: string | null;
  /** Longest a connect may take. */
  timeoutMs: number;
  /** Another instance changed the schema, or its notifications may have been missed (a reconnect): statements wait for a read. */
  onPeerChange: () => void;
  /** A notification over the budget from a backend that is not a Gatehouse instance: read again in the background. */
  onBackgroundRefresh: () => void;
  /** Notifications from other backends waited for (default DEFAULT_PEER_BUDGET). */
  budget?: PeerBudget;
  /** Operator log: the connection lost and back. */
  log?: (message: string) => void;
}

export class CatalogPeers {
  /** This instance's id, the payload of its notifications. */
  readonly instanceId = randomUUID();
  private client: pg.Client | null = null;
  private connecting = false;
  private closed = false;
  private retry: NodeJS.Timeout | null = null;
  private failures = 0;
  private listenedBefore = false;
  private readonly gate: PeerNotificationGate;

  constructor(private readonly options: CatalogPeersOptions) {
    this.gate = new PeerNotificationGate({
      budget: options.budget ?? DEFAULT_PEER_BUDGET,
      senders: (pids) => this.senders(pids),
      change: () => options.onPeerChange(),
      background: () => options.onBackgroundRefresh(),
      ...(options.log ? { log: options.log } : {}),
    });
  }

  /** Starts listening (in the background; never throws). */
  start(): void {
    void this.connect();
  }

  /**
   * Tells the other instances that a schema change was made through this one. Best effort: while the
   * connection is down, they learn of it at their next read (at most 30 s later).
   */
  announce(): void {
    const c = this.client;
    if (c === null) return;
    c.query('SELECT pg_catalog.pg_notify($1, $2)', [CATALOG_CHANNEL, this.instanceId]).catch(() => this.lost(c, 'notify failed'));
  }

  /** Whether the channel is being listened on (for tests and status). */
  listening(): boolean {
    return this.client !== null;
  }

  /** Whether notifications are over the budget now and refresh in the background (for tests and status). */
  flooded(): boolean {
    return this.gate.flooded();
  }

  private async senders(pids: number[]): Promise<PeerSender[]> {
    const c = this.client;
    if (c === null) throw new Error('not connected');
    const r = await c.query<{ pid: number; role: string; app: string; peer: boolean }>(SENDERS, [PEERS_APPLICATION_NAME, pids]);
    return r.rows.map((row) => ({ pid: row.pid, role: row.role, applicationName: row.app, peer: row.peer }));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.gate.close();
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    const c = this.client;
    this.client = null;
    if (c) await c.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    if (this.closed || this.connecting || this.client !== null) return;
    this.connecting = true;
    const { connectionString, database, timeoutMs } = this.options;
    const client = new pg.Client({
      connectionString,
      ...(database ? { database } : {}),
      application_name: PEERS_APPLICATION_NAME,
      connectionTimeoutMillis: timeoutMs,
      statement_timeout: timeoutMs,
    });
    let ownPid = -1; // read before LISTEN
    client.on('notification', (n) => {
      if (n.channel !== CATALOG_CHANNEL || n.payload === this.instanceId || n.processId === ownPid) return;
      this.gate.notified(n.processId);
    });
    client.on('error', (e) => this.lost(client, e.message));
    client.on('end', () => this.lost(client, 'the connection ended'));
    try {
      await client.connect();
      ownPid = (await client.query<{ pid: number }>('SELECT pg_catalog.pg_backend_pid() AS pid')).rows[0]!.pid;
      await client.query(`LISTEN ${CATALOG_CHANNEL}`);
    } catch (e) {
      this.connecting = false;
      void client.end().catch(() => undefined);
      this.scheduleRetry(e instanceof Error ? e.message : String(e));
      return;
    }
    this.connecting = false;
    if (this.closed) {
      void client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    if (this.failures > 0) this.options.log?.(`catalog peers: listening on ${CATALOG_CHANNEL} again after ${this.failures} failed attempt(s)`);
    this.failures = 0;
    // Notifications sent while nobody listened are gone: count them as a change.
    if (this.listenedBefore) this.options.onPeerChange();
    this.listenedBefore = true;
  }

  private lost(client: pg.Client, why: string): void {
    if (this.client !== client) return;
    this.client = null;
    void client.end().catch(() => undefined);
    this.scheduleRetry(why);
  }

  private scheduleRetry(why: string): void {
    if (this.closed || this.retry !== null) return;
    this.failures++;
    const wait = Math.min(MAX_RETRY_MS, MIN_RETRY_MS * 2 ** (this.failures - 1));
    if (this.failures === 1 || wait === MAX_RETRY_MS) {
      this.options.log?.(`catalog peers: not listening for other instances' schema changes (${why}); they are seen at the next background read; retrying in ${wait / 1000} s`);
    }
    this.retry = setTimeout(() => {
      this.retry = null;
      void this.connect();
    }, wait);
    this.retry.unref();
  }
}
