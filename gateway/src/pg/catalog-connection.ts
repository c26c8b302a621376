// One connection of Gatehouse's own to the upstream database for reading its catalog, opened on
// first use and dropped when it fails or a read overruns: every read is bounded in time, both by
// the server (statement_timeout, lock_timeout) and here, so a hung read never holds a caller.

import pg from 'pg';

export interface CatalogConnectionOptions {
  connectionString: string;
  /** null: the connection string's database. */
  database: string | null;
  /** Shown in pg_stat_activity, e.g. "gatehouse-catalog:relations". */
  applicationName: string;
  /** Longest a connect or a read may take before it is given up (and the connection dropped). */
  timeoutMs: number;
}

/** Thrown when a catalog read overran its time; the connection was dropped. */
export class CatalogReadTimeout extends Error {
  constructor(timeoutMs: number) {
    super(`catalog read took longer than ${timeoutMs} ms; the catalog connection was dropped`);
    this.name = 'CatalogReadTimeout';
  }
}

export class CatalogConnection {
  private client: pg.Client | null = null;
  private connecting: Promise<pg.Client> | null = null;

  constructor(private readonly options: CatalogConnectionOptions) {}

  /** Runs `read` on the connection within the time limit; on any failure the connection is dropped. */
  async run<T>(read: (client: pg.Client) => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new CatalogReadTimeout(this.options.timeoutMs)), this.options.timeoutMs);
    });
    try {
      return await Promise.race([this.connect().then(read), timeout]);
    } catch (e) {
      this.drop();
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes the connection (a later run() opens a new one). */
  async close(): Promise<void> {
    const c = this.client;
    this.client = null;
    this.connecting = null;
    if (c) await c.end().catch(() => undefined);
  }

  private drop(): void {
    const c = this.client;
    this.client = null;
    this.connecting = null;
    // end() sends Terminate and closes the socket; the server also gives up at statement_timeout.
    if (c) void c.end().catch(() => undefined);
  }

  private connect(): Promise<pg.Client> {
    if (this.client) return Promise.resolve(this.client);
    if (this.connecting) return this.connecting;
    const { connectionString, database, applicationName, timeoutMs } = this.options;
    const client = new pg.Client({
      connectionString,
      ...(database ? { database } : {}),
      application_name: applicationName,
      connectionTimeoutMillis: timeoutMs,
      statement_timeout: timeoutMs,
      lock_timeout: timeoutMs,
    });
    client.on('error', () => {
      if (this.client === client) this.client = null;
    });
    const connecting = client.connect().then(
      () => {
        if (this.connecting !== connecting) {
          // Dropped while connecting (a timeout): do not keep it.
          void client.end().catch(() => undefined);
          throw new Error('catalog connection was dropped while connecting');
        }
        this.client = client;
        this.connecting = null;
        return client;
      },
      (e: unknown) => {
        if (this.connecting === connecting) this.connecting = null;
        throw e;
      },
    );
    this.connecting = connecting;
    return connecting;
  }
}
