// What Gatehouse knows of one upstream database's catalog: the routine and relation snapshots that
// decisions and masks read synchronously. Each snapshot reads over a connection of its own, so a
// slow or hung read of one (a lock, a large catalog) never queues the other behind it; the DDL locks
// are polled between reads over a third (pg/ddl-locks.ts).

import { CatalogConnection } from './catalog-connection.ts';
import { CatalogPeers } from './catalog-peers.ts';
import type { PeerBudget } from './catalog-peer-gate.ts';
import { DdlLockWatch } from './ddl-locks.ts';
import { DEFAULT_SNAPSHOT_TIMING, type CatalogSnapshot, type ChangeWait, type SnapshotTiming } from './catalog-snapshot.ts';
import { relationSnapshot, type RelationSnapshot } from './relation-snapshot.ts';
import { routineSnapshot } from './routine-snapshot.ts';
import type { RoutineCatalog, RoutineRow } from '../enforce/routine-catalog.ts';

export interface CatalogOptions {
  connectionString: string;
  /** null: the connection string's database. */
  database: string | null;
  /** Longest one snapshot read (or connect) may take; it is then given up and retried later. */
  readTimeoutMs?: number;
  timing?: SnapshotTiming;
  /** Longest a statement waits for the snapshots to be read again after a schema change (default 5 s). */
  changeWaitMs?: number;
  /** Operator log (failed and recovered reads). */
  log?: (message: string) => void;
  /**
   * Tell other Gatehouse instances of the database about schema changes made through this one, and
   * hear theirs (LISTEN/NOTIFY, pg/catalog-peers.ts). Default false (the server turns it on).
   */
  peers?: boolean;
  /**
   * How many notifications from backends that are not Gatehouse instances statements wait for (at once,
   * then per second); beyond it they refresh in the background (pg/catalog-peer-gate.ts, R14-4).
   */
  peerBudget?: PeerBudget;
  /**
   * How often the DDL locks are polled between snapshot reads (pg/ddl-locks.ts); 0: never (locks are
   * then seen at snapshot reads only). Default 250 ms when `peers` is set, else 0 (the embedded demo).
   */
  lockPollMs?: number;
}

const READ_TIMEOUT_MS = 10_000;
const CHANGE_WAIT_MS = 5_000;
const LOCK_POLL_MS = 250;

export class CatalogResolver {
  private readonly connections: CatalogConnection[] = [];
  /** Functions, operators and types, for checking masked statements (pg/routine-snapshot.ts). */
  readonly routines: CatalogSnapshot<RoutineRow[], RoutineCatalog>;
  /** Relations, their columns and view dependencies, for masking at the source (pg/relation-snapshot.ts). */
  readonly relations: RelationSnapshot;
  private readonly changeWaitMs: number;
  /** The channel to other instances (null when options.peers is not set). */
  readonly peers: CatalogPeers | null;
  /** Polls the locks schema changes hold, between relation snapshot reads (R14-3). */
  readonly locks: DdlLockWatch;

  constructor(options: CatalogOptions) {
    this.changeWaitMs = options.changeWaitMs ?? CHANGE_WAIT_MS;
    const timing = options.timing ?? DEFAULT_SNAPSHOT_TIMING;
    const where = options.database === null ? '' : ` of database "${options.database}"`;
    const log = (message: string): void => options.log?.(message.replace(/^(\w+ snapshot)/, `$1${where}`));
    const connection = (name: string): CatalogConnection => {
      const c = new CatalogConnection({
        connectionString: options.connectionString,
        database: options.database,
        applicationName: `gatehouse-catalog:${name}`,
        timeoutMs: options.readTimeoutMs ?? READ_TIMEOUT_MS,
      });
      this.connections.push(c);
      return c;
    };
    const routineConnection = connection('routines');
    const relationConnection = connection('relations');
    this.routines = routineSnapshot((read) => routineConnection.run(read), log, timing);
    this.relations = relationSnapshot((read) => relationConnection.run(read), log, timing);
    this.peers = options.peers
      ? new CatalogPeers({
          connectionString: options.connectionString,
          database: options.database,
          timeoutMs: options.readTimeoutMs ?? READ_TIMEOUT_MS,
          onPeerChange: () => this.invalidate(),
          onBackgroundRefresh: () => {
            this.routines.refreshInBackground();
            this.relations.refreshInBackground();
          },
          ...(options.peerBudget ? { budget: options.peerBudget } : {}),
          log: (message) => options.log?.(message.replace(/^catalog peers/, `catalog peers${where}`)),
        })
      : null;
    this.peers?.start();
    const lockConnection = connection('locks');
    this.locks = new DdlLockWatch({
      reader: (read) => lockConnection.run(read),
      relations: this.relations,
      intervalMs: options.lockPollMs ?? (options.peers ? LOCK_POLL_MS : 0),
      log,
    });
    this.locks.start();
  }

  /**
   * A statement that may change the catalog (sql/catalog-changes.ts) committed through Gatehouse:
   * both snapshots are read again at once.
   */
  changed(): void {
    this.invalidate();
    this.peers?.announce();
  }

  /** Both snapshots are behind a change (made here or through another instance): read them again at once. */
  private invalidate(): void {
    this.routines.invalidate();
    this.relations.invalidate();
  }

  /**
   * null when no change is waiting to be read (the normal case: nothing waits); else how the wait
   * for the reads after the last change ended, at most changeWaitMs: 'fresh' only when both are.
   */
  afterChange(): Promise<ChangeWait> | null {
    const pending = [this.routines, this.relations].filter((s) => s.changePending());
    if (pending.length === 0) return null;
    return Promise.all(pending.map((s) => s.afterChange(this.changeWaitMs))).then((results) =>
      results.includes('failed') ? 'failed' : results.includes('timeout') ? 'timeout' : 'fresh',
    );
  }

  async close(): Promise<void> {
    this.locks.stop();
    await Promise.all([...this.connections.map((c) => c.close()), this.peers?.close()]);
  }
}
