// What Gatehouse knows about the database's relations: names per schema, kinds, columns in order
// with their types, the tables each view reads and each table's ancestors. A snapshot from the
// server's catalog (pg/relation-snapshot.ts), read synchronously by decisions and mask rewrites.

import type { PolicyTrigger } from '../policy/types.ts';

export type RelationKind = 'table' | 'partitioned_table' | 'view' | 'materialized_view' | 'foreign_table' | 'other';
export type Persistence = 'permanent' | 'unlogged' | 'temporary';

export interface ColumnInfo {
  name: string;
  attnum: number;
  /** The type as SQL can name it in a cast, schema-qualified unless it is a built-in type. */
  type: string;
  /** pg_type.typcategory: 'S' for string types, 'D' for date/time, 'N' numeric, ... */
  category: string;
  typeOid: number;
  /**
   * For a generated column: the columns its expression reads (pg/generated-columns.ts). It is a derived
   * copy of them: masked like them, and assigned when they are (enforce/generated-masks.ts; R21a-2).
   * Absent: not generated.
   */
  generatedFrom?: string[];
}

export interface RelationInfo {
  oid: number;
  schema: string;
  name: string;
  /** "schema.name" */
  qualified: string;
  kind: RelationKind;
  persistence: Persistence;
  /** Live columns in attnum order (empty for system schemas, whose columns are not loaded). */
  columns: ColumnInfo[];
  /** For views and materialized views: every table or view read, directly or through other views. */
  reads: string[];
  /** For views: every function their definitions call, directly or through other views; for any relation, the functions its row-level security policies call, and a view those of the tables it reads (built-ins bare and as pg_catalog.f). */
  calls?: string[];
  /**
   * The definition of this view, or of a view it reads, was not read: another transaction holds it,
   * or a relation it names, ACCESS EXCLUSIVE (a migration in progress; pg/relation-snapshot.ts). What
   * the view calls is then unknown, and the definition PostgreSQL runs once that transaction commits
   * may read other tables: statements naming it are refused until a read finds it free (R12-9).
   */
  definitionLocked?: true;
  /**
   * Locks held (or waited for) on this relation by other transactions in the modes DDL takes
   * (pg/ddl-locks.ts): a statement whose own lock conflicts queues behind them in PostgreSQL and runs
   * whatever definition the holder commits (R14-3; enforce/table-locks.ts). Absent: none.
   */
  lockedBy?: RelationLock[];
  /**
   * Its indexes not yet valid (a CREATE INDEX CONCURRENTLY under way, or one that failed): writes may
   * maintain them already, long before the command ends and is announced (red-team round 15, R15-4).
   * Known so that the DDL lock watch reads the snapshot again when one appears (pg/ddl-locks.ts).
   */
  buildingIndexes?: number[];
  /**
   * The LOCK TABLE modes Gatehouse's upstream role may take on it (tables, partitioned tables and views
   * only; PostgreSQL 15 refuses LOCK on materialized views and foreign tables): 'read' ACCESS SHARE
   * (any of SELECT, INSERT, UPDATE, DELETE, TRUNCATE), 'write' ROW EXCLUSIVE as well (any but SELECT).
   * Absent: none (a column-level grant only, or another kind). Used for the lock prefix (enforce/lock-prefix.ts).
   */
  lockable?: 'read' | 'write';
  /** Tables this one inherits from or is a partition of, transitively. */
  ancestors: string[];
  /**
   * Constraints through which a write learns whether a value exists in this table (23505, 23P01,
   * 23503, or ON CONFLICT's row count): its unique and exclusion indexes, and the columns foreign keys
   * of any table reference. Absent: none known.
   */
  keys?: KeyConstraint[];
  /** Its CHECK constraints and row-level security policies (pg/relation-checks.ts): an update assigning their columns tests them against the stored others (R21a-1). Absent: none known. */
  checks?: CheckConstraint[];
  /** This table's foreign keys: a write assigning their columns makes PostgreSQL look the value up in another table. */
  foreignKeys?: ForeignKey[];
  /**
   * Tables a foreign-key action (ON UPDATE/DELETE CASCADE, SET NULL, SET DEFAULT) writes when this
   * one is updated or deleted from (directly; follow them for the transitive ones). Absent: none known.
   */
  actionWrites?: string[];
  /** Enabled user triggers of this relation (pg_trigger, not internal, not disabled). Absent: none. */
  triggers?: TriggerInfo[];
  /** User functions the WHEN conditions of those triggers call (they run too). Absent: none. */
  triggerCalls?: string[];
  /**
   * The pg_proc row version (xmin) of each trigger's function as read, by trigger name (pinned with its
   * digest: enforce/function-pins.ts; red-team round 19b, R19b-1). Absent: not read.
   */
  triggerFunctionVersions?: Readonly<Record<string, string>>;
  /**
   * Functions of those triggers (their own and their WHEN conditions') that resolve names with the
   * writer's session: no search_path in their definition ending in pg_temp, and not C or internal
   * (pg/relation-triggers.ts pathPinned; red-team round 18b, R18b-1). Absent: none.
   */
  unpinnedFunctions?: string[];
  /**
   * User functions a write to this table runs besides triggers: its column defaults and generated
   * columns, CHECK constraints, index expressions and its columns' domain constraints call them
   * (pg/relation-write-calls.ts). Absent: none.
   */
  writeCalls?: string[];
  /**
   * User functions PostgreSQL may choose by the types of this relation's columns, none of them named:
   * operator families' support functions and operators (sorting, grouping, hashing, index
   * maintenance) and implicit and assignment casts (pg/relation-type-calls.ts). Absent: none.
   */
  typeCalls?: string[];
  /**
   * Functions a write to this table runs (its triggers' functions, their WHEN conditions', and
   * `writeCalls` and `typeCalls`) that Gatehouse's upstream role could replace or alter: it owns them, can
   * become their owner, or is a superuser (pg/replaceable-functions.ts). Under a mask such a write is
   * refused (enforce/replaceable-functions.ts). Absent: none.
   */
  replaceableFunctions?: string[];
  /**
   * A fingerprint of its indexes, constraints, triggers, rules, columns, defaults and children as the
   * snapshot read them (pg/relation-structure.ts): compared with the server's before a write under a
   * mask (enforce/fresh-catalog.ts). Absent: not read (system schemas, tests).
   */
  structure?: string;
  /** A partitioned table's partition key columns (['*'] when it has expressions): updating one may move a row into another partition. */
  partitionKey?: string[];
  /**
   * It has rewrite rules of its own (CREATE RULE; a view's _RETURN rule does not count). Their actions
   * run on its rows raw: OLD and NEW, or a SELECT of it whose rows come back to the client unmasked
   * (red-team round 17a, R17a-4). `reads` does not show a rule that reads only its own table.
   */
  rules?: true;
}

/**
 * The lock modes of pg_locks that schema changes take and that block reads or writes: ACCESS
 * EXCLUSIVE (ALTER TABLE, DROP, CREATE OR REPLACE VIEW, TRUNCATE, ...) blocks every statement; SHARE
 * (CREATE INDEX), SHARE ROW EXCLUSIVE (CREATE TRIGGER, ADD FOREIGN KEY) and EXCLUSIVE block writes.
 */
export type DdlLockMode = 'access_exclusive' | 'exclusive' | 'share_row_exclusive' | 'share';

/** One backend's lock on a relation; `pid` null for a prepared transaction (held by no session). */
export interface RelationLock {
  pid: number | null;
  mode: DdlLockMode;
}

/** A canonical text for a set of indexes not yet valid, by table: the snapshot's and a poll's are compared by it. */
export function buildingKey(indexes: Iterable<{ rel: number; index: number }>): string {
  const items: string[] = [];
  for (const i of indexes) items.push(`${i.rel}:${i.index}`);
  return items.sort().join(',');
}

/** A canonical text for a set of locks on relations: the snapshot's and a poll's are compared by it (pg/ddl-locks.ts). */
export function lockKey(locks: Iterable<{ oid: number; pid: number | null; mode: DdlLockMode }>): string {
  const items: string[] = [];
  for (const l of locks) items.push(`${l.oid}:${l.pid ?? ''}:${l.mode}`);
  return items.sort().join(',');
}

/**
 * A constraint over columns of one table. `unique`: a unique index (PRIMARY KEY, UNIQUE, or CREATE
 * UNIQUE INDEX); `exclusion`: an exclusion constraint; `referenced`: the columns a foreign key of
 * `from` references. For an index over expressions or with a WHERE clause, `columns` holds every
 * column the index mentions (conservatively).
 */
export interface KeyConstraint {
  kind: 'unique' | 'exclusion' | 'referenced';
  /** The index or constraint name. */
  name: string;
  columns: string[];
  /** For `referenced`: the referencing table ("schema.name"). */
  from?: string;
  /** For `referenced`: the referencing columns of `from`, pairwise with `columns`. */
  referencing?: string[];
}

/** A CHECK constraint, or a row-level security policy, and the columns its expressions use; `validated` false for NOT VALID. */
export interface CheckConstraint {
  kind: 'check' | 'policy';
  name: string;
  columns: string[];
  validated: boolean;
  /**
   * A policy's: the other relations ("schema.name") its expressions read in subqueries, raw whatever the
   * identity's masks (R21d-5; enforce/check-oracles.ts policyReadOracle). Absent: none.
   */
  reads?: string[];
  /** A row-level security policy's: functions outside pg_catalog its expressions call (what they read is unknown: R21f-5). */
  calls?: string[];
}

/** A user trigger, as the policy input reports it (statement.triggers). */
export type TriggerInfo = PolicyTrigger;

/** A foreign key: `columns` of the table that has it reference `referenced` of `table`, pairwise. */
export interface ForeignKey {
  name: string;
  columns: string[];
  /** "schema.name" of the referenced table. */
  table: string;
  referenced: string[];
}

/** Whether the keyed functions `gatehouse db setup` installs can be called by Gatehouse's role. */
export interface MaskFunctions {
  hash: boolean;
  /** Gatehouse's upstream role is a superuser: it could read the key (warned about at startup). */
  superuser?: boolean;
  /** Which code computes the keyed hash (the C extension gatehouse_mask or PL/pgSQL); logged at startup. */
  implementation?: 'c' | 'plpgsql';
  /** gatehouse_mask_last4 (extension gatehouse_mask 1.1) can be called: last4 in C instead of SQL. */
  last4?: boolean;
}

export class RelationCatalog {
  private readonly byName = new Map<string, RelationInfo>();
  private readonly byOid = new Map<number, RelationInfo>();
  private readonly children = new Map<string, RelationInfo[]>();
  /** The DDL locks this snapshot was read with (lockKey()): empty in the normal case. */
  readonly lockKey: string;
  /** The indexes not yet valid this snapshot was read with (buildingKey()): empty in the normal case. */
  readonly buildingKey: string;

  constructor(
    relations: readonly RelationInfo[],
    readonly maskFunctions: MaskFunctions,
    readonly loadedAt: number = Date.now(),
    /** Changes with every load: part of cache keys for rewrites built from this snapshot. */
    readonly version: number = 0,
  ) {
    const locks: Array<{ oid: number; pid: number | null; mode: DdlLockMode }> = [];
    const building: Array<{ rel: number; index: number }> = [];
    for (const r of relations) {
      for (const l of r.lockedBy ?? []) locks.push({ oid: r.oid, pid: l.pid, mode: l.mode });
      for (const index of r.buildingIndexes ?? []) building.push({ rel: r.oid, index });
      this.byName.set(r.qualified, r);
      this.byOid.set(r.oid, r);
      for (const a of r.ancestors) {
        let below = this.children.get(a);
        if (!below) this.children.set(a, (below = []));
        below.push(r);
      }
    }
    this.lockKey = lockKey(locks);
    this.buildingKey = buildingKey(building);
  }

  /** Some relation has `lockedBy` (the normal case is false: statements skip the lock check). */
  get anyLocked(): boolean {
    return this.lockKey !== '';
  }

  /** The tables that inherit from or are partitions of `qualified`, transitively (a write to it may reach their rows). */
  descendants(qualified: string): readonly RelationInfo[] {
    return this.children.get(qualified) ?? [];
  }

  get(qualified: string): RelationInfo | null {
    return this.byName.get(qualified) ?? null;
  }

  /** Every relation of the snapshot ("schema.name"), in no particular order. */
  names(): IterableIterator<string> {
    return this.byName.keys();
  }

  byId(oid: number): RelationInfo | null {
    return this.byOid.get(oid) ?? null;
  }

  /**
   * The relation PostgreSQL finds for an unqualified name: the first schema of `order` that holds
   * one (the order must start with pg_catalog unless the path names it later, as PostgreSQL does).
   */
  resolve(name: string, order: readonly string[]): RelationInfo | null {
    for (const schema of order) {
      const hit = this.byName.get(`${schema}.${name}`);
      if (hit) return hit;
    }
    return null;
  }
}
