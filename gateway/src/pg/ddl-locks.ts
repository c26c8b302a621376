// The locks schema changes hold on relations (pg_locks), read into the relation snapshot and polled
// between its reads: a lock that appears or goes away makes the snapshot be read again at once, so a
// migration's open transaction (through Gatehouse or directly on the server) is known to the
// decisions within one poll (red-team round 14, R14-3; enforce/table-locks.ts).

import type { CatalogReader, CatalogSnapshot } from './catalog-snapshot.ts';
import { buildingKey, lockKey, type DdlLockMode, type RelationCatalog, type RelationLock } from '../enforce/relation-catalog.ts';

/**
 * Relation locks in the modes DDL takes that block reads or writes, held or waited for (a waiting
 * ACCESS EXCLUSIVE request queues later statements behind it too) by any backend but the reading one,
 * or by a prepared transaction (pid NULL), in the current database. SHARE UPDATE EXCLUSIVE (autovacuum,
 * ANALYZE, CREATE INDEX CONCURRENTLY) blocks neither and is left out.
 */
export const DDL_LOCKS = `SELECT DISTINCT l.relation, l.pid, l.mode FROM pg_catalog.pg_locks l
   WHERE l.locktype = 'relation' AND l.mode IN ('AccessExclusiveLock', 'ExclusiveLock', 'ShareRowExclusiveLock', 'ShareLock')
     AND l.pid IS DISTINCT FROM pg_catalog.pg_backend_pid()
     AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())`;

/**
 * The same locks, on the relations the snapshot records them for (relation-snapshot.ts RELATIONS filters
 * alike): not the system catalogs', whose definitions no migration changes and whose locks (a LOCK TABLE
 * on pg_inherits) may hold the snapshot read itself: statements would then wait for a read that cannot end.
 */
const POLL = `SELECT k.relation::int AS oid, k.pid, k.mode
  FROM (${DDL_LOCKS}) k
  JOIN pg_catalog.pg_class c ON c.oid = k.relation
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'`;

/**
 * Indexes not yet valid on the same relations: CREATE INDEX CONCURRENTLY takes SHARE UPDATE EXCLUSIVE (not
 * watched: autovacuum takes it too), and writes maintain its index from its second transaction's commit,
 * long before the command ends and the event trigger announces it (red-team round 15, R15-4). An index
 * appearing here makes the snapshot be read again, which then lists its operator class (relation-type-calls.ts).
 */
const BUILDING = `SELECT x.indrelid::int AS rel, x.indexrelid::int AS index
  FROM pg_catalog.pg_index x
  JOIN pg_catalog.pg_class c ON c.oid = x.indrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE NOT x.indisvalid AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'`;

/** One lock as read: pg_locks' mode name. */
export interface DdlLockRow {
  pid: number | null;
  mode: string;
}

export function ddlLockMode(mode: string): DdlLockMode | null {
  switch (mode) {
    case 'AccessExclusiveLock':
      return 'access_exclusive';
    case 'ExclusiveLock':
      return 'exclusive';
    case 'ShareRowExclusiveLock':
      return 'share_row_exclusive';
    case 'ShareLock':
      return 'share';
    default:
      return null;
  }
}

/** The locks of one relation as the snapshot keeps them (unknown modes dropped), in a stable order. */
export function relationLocks(rows: readonly DdlLockRow[] | null | undefined): RelationLock[] {
  const out: RelationLock[] = [];
  for (const r of rows ?? []) {
    const mode = ddlLockMode(r.mode);
    if (mode !== null) out.push({ pid: r.pid, mode });
  }
  return out.sort((a, b) => (a.pid ?? -1) - (b.pid ?? -1) || a.mode.localeCompare(b.mode));
}

/** The key of polled rows, comparable with RelationCatalog.lockKey. */
export function polledLockKey(rows: ReadonlyArray<{ oid: number; pid: number | null; mode: string }>): string {
  const locks: Array<{ oid: number; pid: number | null; mode: DdlLockMode }> = [];
  for (const r of rows) {
    const mode = ddlLockMode(r.mode);
    if (mode !== null) locks.push({ oid: r.oid, pid: r.pid, mode });
  }
  return lockKey(locks);
}

export interface DdlLockWatchOptions {
  /** Runs the poll on a catalog connection of its own (pg/catalog-connection.ts). */
  reader: CatalogReader;
  relations: Pick<CatalogSnapshot<unknown, RelationCatalog>, 'peek' | 'invalidate' | 'changePending'>;
  intervalMs: number;
  log?: (message: string) => void;
}

/**
 * Polls the DDL locks every `intervalMs` and, when they differ from those the current relation
 * snapshot was built with, marks it stale (CatalogSnapshot.invalidate): statements naming a relation
 * then wait for the read, as after a schema change through Gatehouse, and are decided with the locks.
 */
export class DdlLockWatch {
  private timer: NodeJS.Timeout | null = null;
  private polling = false;
  private failures = 0;
  /** Polls that completed (tests and tools). */
  polls = 0;

  constructor(private readonly options: DdlLockWatchOptions) {}

  start(): void {
    if (this.timer !== null || this.options.intervalMs <= 0) return;
    this.timer = setInterval(() => void this.poll(), this.options.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** One poll (skipped while one is in flight). Never rejects. */
  async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const [rows, building] = await this.options.reader(async (client) => [
        (await client.query<{ oid: number; pid: number | null; mode: string }>(POLL)).rows,
        (await client.query<{ rel: number; index: number }>(BUILDING)).rows,
      ] as const);
      this.polls++;
      if (this.failures > 0) this.options.log?.(`DDL lock watch: polling again after ${this.failures} failed attempt(s)`);
      this.failures = 0;
      const snapshot = this.options.relations.peek();
      if (snapshot === null || this.options.relations.changePending()) return; // a read is owed anyway
      if (polledLockKey(rows) !== snapshot.lockKey || buildingKey(building) !== snapshot.buildingKey) this.options.relations.invalidate();
    } catch (e) {
      if (this.failures++ === 0) {
        const why = e instanceof Error ? e.message : String(e);
        this.options.log?.(`DDL lock watch: could not read pg_locks (${why}); a migration's lock taken directly on the server is seen at the next snapshot read only`);
      }
    } finally {
      this.polling = false;
    }
  }
}
