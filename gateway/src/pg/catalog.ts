// Resolves table OIDs and attribute numbers (from RowDescription) to schema-qualified names,
// through Gatehouse's own catalog connection to the upstream database. Cached per OID.

import pg from 'pg';
import { relationSnapshot } from './relation-snapshot.ts';
import { routineSnapshot } from './routine-snapshot.ts';

export interface RelationInfo {
  oid: number;
  /** "schema.name" */
  qualified: string;
  /** attnum → column name, for live (not dropped) columns. */
  columns: Map<number, string>;
}

const BY_OID = `SELECT c.oid::int AS oid, n.nspname AS schema, c.relname AS name, a.attnum::int AS attnum, a.attname AS attname
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  WHERE c.oid = ANY($1::oid[])`;

const BY_NAME = `SELECT c.oid::int AS oid FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = $1 AND c.relname = $2`;

interface Row {
  oid: number;
  schema: string;
  name: string;
  attnum: number | null;
  attname: string | null;
}

/** Entries are kept for a while only: a dropped and re-created table can get a new OID. */
const TTL_MS = 60_000;

export class CatalogResolver {
  private client: pg.Client | null = null;
  private connecting: Promise<pg.Client> | null = null;
  private readonly byOid = new Map<number, { info: RelationInfo | null; at: number }>();
  private readonly byName = new Map<string, { oid: number | null; at: number }>();
  /** Functions, operators and types, for checking masked statements (pg/routine-snapshot.ts). */
  readonly routines = routineSnapshot(() => this.connect());
  /** Relations, their columns and view dependencies, for masking at the source (pg/relation-snapshot.ts). */
  readonly relations = relationSnapshot(() => this.connect());

  constructor(private readonly connectionString: string, private readonly database: string | null) {}

  /** Cached lookups only; undefined means "not known yet, call resolve()". */
  cached(oid: number): RelationInfo | null | undefined {
    const hit = this.byOid.get(oid);
    if (!hit || Date.now() - hit.at > TTL_MS) return undefined;
    return hit.info;
  }

  async resolve(oids: number[]): Promise<Map<number, RelationInfo | null>> {
    const out = new Map<number, RelationInfo | null>();
    const missing: number[] = [];
    for (const oid of oids) {
      const c = this.cached(oid);
      if (c === undefined) missing.push(oid);
      else out.set(oid, c);
    }
    if (missing.length > 0) {
      const client = await this.connect();
      const res = await client.query<Row>(BY_OID, [missing]);
      const found = new Map<number, RelationInfo>();
      for (const r of res.rows) {
        let info = found.get(r.oid);
        if (!info) {
          info = { oid: r.oid, qualified: `${r.schema}.${r.name}`, columns: new Map() };
          found.set(r.oid, info);
        }
        if (r.attnum !== null && r.attname !== null) info.columns.set(r.attnum, r.attname);
      }
      const now = Date.now();
      for (const oid of missing) {
        const info = found.get(oid) ?? null;
        this.byOid.set(oid, { info, at: now });
        out.set(oid, info);
      }
    }
    return out;
  }

  /** The OID of a qualified table name, or null when it does not exist. */
  async oidOf(qualified: string): Promise<number | null> {
    const hit = this.byName.get(qualified);
    if (hit && Date.now() - hit.at <= TTL_MS) return hit.oid;
    const dot = qualified.indexOf('.');
    const client = await this.connect();
    const res = await client.query<{ oid: number }>(BY_NAME, [qualified.slice(0, dot), qualified.slice(dot + 1)]);
    const oid = res.rows[0]?.oid ?? null;
    this.byName.set(qualified, { oid, at: Date.now() });
    return oid;
  }

  private connect(): Promise<pg.Client> {
    if (this.client) return Promise.resolve(this.client);
    if (!this.connecting) {
      const client = new pg.Client({
        connectionString: this.connectionString,
        ...(this.database ? { database: this.database } : {}),
        application_name: 'gatehouse-catalog',
      });
      this.connecting = client.connect().then(
        () => {
          client.on('error', () => {
            this.client = null;
          });
          this.client = client;
          this.connecting = null;
          return client;
        },
        (e: unknown) => {
          this.connecting = null;
          throw e;
        },
      );
    }
    return this.connecting;
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = null;
    if (c) await c.end().catch(() => undefined);
  }
}
