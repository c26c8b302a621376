// A schema change made through one Gatehouse instance is learnt by the others serving the same
// database at once (LISTEN/NOTIFY, pg/catalog-peers.ts), not at their next background read: here the
// background read is 10 minutes away, so only the notification can tell them. A change made directly
// on the server reaches them through the event trigger `gatehouse db setup` installs as a superuser
// (db/catalog-notify.ts). Against the real PostgreSQL: two catalog resolvers, then two gateways with an
// agent on one and a schema admin on the other, then a change made directly.
//
// Run: GATEHOUSE_TEST_DB=gh_masking14 npx vitest run --project integration gateway/test/catalog-peers.test.ts

import { rmSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CatalogResolver } from '../src/pg/catalog.ts';
import { CATALOG_CHANNEL, PEERS_APPLICATION_NAME } from '../src/pg/catalog-peers.ts';
import { CATALOG_NOTIFY_TRIGGER, installCatalogNotify } from '../src/db/catalog-notify.ts';
import { MASK_OWNER_ROLE } from '../src/db/mask-functions.ts';
import type { SnapshotTiming } from '../src/pg/catalog-snapshot.ts';
import { schemaAdminsPolicies } from './support/schema-admins-policy.ts';
import { ensureClinicDatabase, startTestGateway, type TestGateway } from './support/harness.ts';
import { attempt as attemptWith, NoticeLog, type Outcome } from './support/attempt.ts';

/** No background read during the test: what the snapshots learn, they learn from a change. */
const SLOW: SnapshotTiming = { refreshAfterMs: 600_000, minBackoffMs: 100, maxBackoffMs: 400, minRefreshIntervalMs: 600_000 };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls until `done` holds (every 50 ms, at most `tries` times); returns whether it did. */
async function until(done: () => boolean | Promise<boolean>, tries = 200): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (await done()) return true;
    await sleep(50);
  }
  return done();
}

/** A role outside Gatehouse that may connect (any such role can notify the channel). */
const FLOODER_ROLE = 'gatehouse_test_flooder';

const CLEANUP = `DROP TABLE IF EXISTS public.peers_probe_t, public.peers_flood_t, public.peers_flood_direct_t; DROP VIEW IF EXISTS public.ddl_peers_v, public.ddl_peers_direct_v;
DROP EVENT TRIGGER IF EXISTS ${CATALOG_NOTIFY_TRIGGER}`;

describe('catalog peers: schema changes through another instance', () => {
  let url: string;
  let direct: pg.Client;

  beforeAll(async () => {
    url = await ensureClinicDatabase();
    direct = new pg.Client({ connectionString: url });
    await direct.connect();
    await direct.query(CLEANUP);
    await direct.query(`DO $$ BEGIN CREATE ROLE ${FLOODER_ROLE} LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
  });
  afterAll(async () => {
    await direct?.query(CLEANUP).catch(() => undefined);
    await direct?.end();
  });

  it("one resolver's change is read at once by another resolver of the database; its own notification is not", async () => {
    const a = new CatalogResolver({ connectionString: url, database: null, timing: SLOW, peers: true });
    const b = new CatalogResolver({ connectionString: url, database: null, timing: SLOW, peers: true });
    try {
      await Promise.all([a.relations.ready(), b.relations.ready()]);
      expect(await until(() => a.peers!.listening() && b.peers!.listening())).toBe(true);
      expect(b.relations.current()?.get('public.peers_probe_t')).toBeNull();
      await direct.query('CREATE TABLE public.peers_probe_t (id integer)');
      const readsOfA = a.relations.stats().reads;
      a.changed(); // what a session of A does once the change has committed
      expect(await until(() => b.relations.current()?.get('public.peers_probe_t') != null)).toBe(true);
      // A read once, for its own change; its own notification (delivered to it too) started no other.
      await until(() => !a.relations.changePending());
      await sleep(200);
      expect(a.relations.stats().reads).toBe(readsOfA + 1);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('a notification on the channel from anyone makes a resolver read again (so a spoofed one costs a read, nothing more)', async () => {
    const b = new CatalogResolver({ connectionString: url, database: null, timing: SLOW, peers: true });
    try {
      await b.relations.ready();
      expect(await until(() => b.peers!.listening())).toBe(true);
      const reads = b.relations.stats().reads;
      await direct.query('SELECT pg_notify($1, $2)', [CATALOG_CHANNEL, 'someone']);
      expect(await until(() => b.relations.stats().reads > reads)).toBe(true);
      expect(b.relations.stats().builds).toBe(1); // nothing changed: the same snapshot
    } finally {
      await b.close();
    }
  });

  it("a flood of notifications from outside Gatehouse costs a bounded number of reads; a peer's change in the middle of it is still waited for (R14-4)", async () => {
    // No refill: past the first 3, only a Gatehouse instance's notification can make B wait for a read; one
    // background read as the flood begins, the next 10 minutes later (SLOW: no other background read either).
    const peerBudget = { burst: 3, perSecond: 0, backgroundEveryMs: 600_000 };
    const options = { connectionString: url, database: null, timing: SLOW, peers: true, lockPollMs: 0, peerBudget } as const;
    const logs: string[] = [];
    const a = new CatalogResolver(options);
    const b = new CatalogResolver({ ...options, log: (m) => logs.push(m) });
    // Another role, claiming the peers' application_name (which anyone can choose).
    const flooderUrl = new URL(url);
    flooderUrl.username = FLOODER_ROLE;
    const flooder = new pg.Client({ connectionString: flooderUrl.toString(), application_name: PEERS_APPLICATION_NAME });
    await flooder.connect();
    try {
      await Promise.all([a.relations.ready(), b.relations.ready()]);
      expect(await until(() => a.peers!.listening() && b.peers!.listening())).toBe(true);
      const reads = b.relations.stats().reads;
      let sent = 0;
      const flood = async (rounds: number): Promise<void> => {
        for (let i = 0; i < rounds; i++) {
          // 100 notifications per statement (distinct payloads are each delivered).
          await flooder.query(`SELECT count(pg_notify($1, 'spoofed-' || g)) FROM generate_series(1, 100) g`, [CATALOG_CHANNEL]);
          sent += 100;
        }
      };
      await flood(10);
      expect(await until(() => b.peers!.flooded())).toBe(true);
      // A schema change announced by a real peer instance in the middle of the flood.
      await direct.query('CREATE TABLE public.peers_flood_t (id integer)');
      const flooding = flood(10);
      a.changed();
      expect(await until(() => b.relations.current()?.get('public.peers_flood_t') != null)).toBe(true);
      await flooding;
      await flood(5);
      // Let every notification arrive, and any read they started end.
      await sleep(500);
      await until(() => !b.relations.changePending());
      // 3 waited for within the budget, 1 in the background, 1 for the peer's change: not one per notification.
      expect(sent).toBe(2500);
      expect(b.relations.stats().reads - reads).toBeLessThanOrEqual(5);
      // The operator log names the sender once: its role is not the peers' (the application_name is).
      const flood_logs = logs.filter((m) => m.includes('beyond 3 at once'));
      expect(flood_logs).toHaveLength(1);
      expect(flood_logs[0]).toContain(`role "${FLOODER_ROLE}"`);
    } finally {
      await flooder.end();
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('past the budget, a change made directly on the server during a flood is read in the background after its last notification', async () => {
    const peerBudget = { burst: 3, perSecond: 0, backgroundEveryMs: 200 };
    const b = new CatalogResolver({ connectionString: url, database: null, timing: SLOW, peers: true, lockPollMs: 0, peerBudget });
    const flooderUrl = new URL(url);
    flooderUrl.username = FLOODER_ROLE;
    const flooder = new pg.Client({ connectionString: flooderUrl.toString() });
    await flooder.connect();
    const flood = (): Promise<unknown> => flooder.query(`SELECT count(pg_notify($1, 'spoofed-' || g)) FROM generate_series(1, 100) g`, [CATALOG_CHANNEL]);
    try {
      await b.relations.ready();
      expect(await until(() => b.peers!.listening())).toBe(true);
      await flood();
      expect(await until(() => b.peers!.flooded())).toBe(true);
      // The reads the budget and the flood's first background read started end before the change.
      await sleep(500);
      expect(await until(() => !b.relations.changePending())).toBe(true);
      // More of the flood (a background read as it arrives), then, as the event trigger would announce it, a
      // change within the 200 ms after that read: the last notification, past the budget.
      await flood();
      await direct.query('CREATE TABLE public.peers_flood_direct_t (id integer)');
      await direct.query('SELECT pg_notify($1, $2)', [CATALOG_CHANNEL, 'ddl']);
      expect(await until(() => b.relations.current()?.get('public.peers_flood_direct_t') != null)).toBe(true);
    } finally {
      await flooder.end();
      await b.close();
    }
  });

  describe('through two gateways', () => {
    let a: TestGateway;
    let b: TestGateway;
    let dir: string;
    let admin: pg.Client;
    let agent: pg.Client;
    let ssn: string;
    const notices = new NoticeLog();
    const attempt = (client: pg.Client, sql: string): Promise<Outcome> => attemptWith(notices, client, sql);

    beforeAll(async () => {
      dir = schemaAdminsPolicies('rego', 'peers', 'public.ddl_peers_');
      a = await startTestGateway({ engine: 'rego', policiesDir: dir, catalog: { timing: SLOW } });
      b = await startTestGateway({ engine: 'rego', policiesDir: dir, catalog: { timing: SLOW } });
      ssn = ((await direct.query('SELECT ssn FROM clinical.patients WHERE id = 1')).rows[0] as { ssn: string }).ssn;
      admin = await a.client(await a.token('peers-admin', ['schema-admins']));
      agent = notices.watch(await b.client(await b.token('peers-agent', ['agents'])));
    });
    afterAll(async () => {
      await agent?.end().catch(() => undefined);
      await admin?.end().catch(() => undefined);
      await a?.close();
      await b?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('a view over the masked table created through one gateway is refused by the other, not read raw', async () => {
      // B has read its snapshots (its first session) before the view exists.
      expect((await attempt(agent, 'SELECT count(*)::int AS n FROM clinical.patients')).code).toBeNull();
      expect((await attempt(admin, 'CREATE VIEW public.ddl_peers_v AS SELECT id, ssn FROM clinical.patients')).code).toBeNull();
      // A probe that returns no row whichever way B decides it, until B knows the view reads clinical.patients.
      let probe: Outcome | null = null;
      expect(
        await until(async () => {
          probe = await attempt(agent, 'SELECT id FROM public.ddl_peers_v WHERE false');
          return probe.code !== null;
        }),
      ).toBe(true);
      expect(probe!.code).toBe('0A000'); // a view that reads a masked table, under a mask
      const o = await attempt(agent, 'SELECT ssn FROM public.ddl_peers_v WHERE id = 1');
      expect(JSON.stringify(o)).not.toContain(ssn);
      expect(o.code).toBe('0A000');
    });

    it("a view over the masked table created directly on the server reaches the gateways at once through db setup's event trigger", async () => {
      expect(await installCatalogNotify(direct, MASK_OWNER_ROLE)).toBe('installed');
      expect((await attempt(agent, 'SELECT count(*)::int AS n FROM clinical.patients')).code).toBeNull();
      // Not through any Gatehouse, in a transaction block: the notification is delivered at COMMIT.
      await direct.query('BEGIN');
      await direct.query('CREATE VIEW public.ddl_peers_direct_v AS SELECT id, ssn FROM clinical.patients');
      await direct.query('COMMIT');
      let probe: Outcome | null = null;
      expect(
        await until(async () => {
          probe = await attempt(agent, 'SELECT id FROM public.ddl_peers_direct_v WHERE false');
          return probe.code !== null;
        }),
      ).toBe(true);
      expect(probe!.code).toBe('0A000');
      const o = await attempt(agent, 'SELECT ssn FROM public.ddl_peers_direct_v WHERE id = 1');
      expect(JSON.stringify(o)).not.toContain(ssn);
      expect(o.code).toBe('0A000');
    });
  });
});
