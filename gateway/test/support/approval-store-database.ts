// A database of a test file's own for the PostgreSQL approval store: its `gatehouse` schema dropped
// before the file runs (so the store creates it afresh), and every store the file opens closed after it.

import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { openPostgresStore } from '../../src/approvals/postgres-store.ts';
import type { ApprovalStore } from '../../src/approvals/store.ts';
import { ensureDatabase, TEST_DB } from './harness.ts';

export interface ApprovalStoreDatabase {
  /** The database's URL (from the beforeAll on). */
  readonly url: string;
  /** Opens a store on it, closed after the file unless closed before. */
  open(): Promise<ApprovalStore>;
  /** Closes a store before the end (a restart) and forgets it. */
  close(store: ApprovalStore): Promise<void>;
}

/** Registers the beforeAll and afterAll; the database is `${TEST_DB}_${suffix}`. */
export function useApprovalStoreDatabase(suffix: string): ApprovalStoreDatabase {
  let url: string | undefined;
  const stores: ApprovalStore[] = [];
  beforeAll(async () => {
    const created = await ensureDatabase(`${TEST_DB}_${suffix}`);
    const c = new pg.Client({ connectionString: created });
    await c.connect();
    try {
      await c.query('DROP SCHEMA IF EXISTS gatehouse CASCADE');
    } finally {
      await c.end();
    }
    url = created;
  });
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
  });
  const ready = (): string => {
    if (url === undefined) throw new Error('the approval store database is not ready: use it in tests and hooks registered after useApprovalStoreDatabase');
    return url;
  };
  return {
    get url() {
      return ready();
    },
    async open() {
      const store = await openPostgresStore({ url: ready() });
      stores.push(store);
      return store;
    },
    async close(store) {
      stores.splice(stores.indexOf(store), 1);
      await store.close();
    },
  };
}
