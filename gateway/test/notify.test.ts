// Asynchronous messages pass through Gatehouse: NotificationResponse (LISTEN/NOTIFY) reaches an
// idle listening client, and NoticeResponse (warnings, RAISE NOTICE) arrives as a notice.

import { copyFileSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, sqlstateOf, startTestGateway, type TestGateway } from './support/harness.ts';

/**
 * The example policies permit no LISTEN/NOTIFY statement, no pg_notify() and no DO block, for
 * anyone. This test runs them plus rules for a `listeners` group (its statements, and
 * `notify_permitted`, the example set's hook for pg_notify), so the relay of notifications can be tested.
 */
const LISTEN_POLICY = `package gatehouse

allow contains {"id": "it-listen", "reason": "integration test: notifications", "on": "execute"} if {
	member("listeners")
	input.statement.kind in {"listen", "do"}
}

notify_permitted if member("listeners")
`;

function policiesWithListen(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-notify-policies-'));
  const examples = join(REPO_ROOT, 'policies', 'rego');
  for (const f of readdirSync(examples)) if (f.endsWith('.rego') && !f.endsWith('_test.rego')) copyFileSync(join(examples, f), join(dir, f));
  writeFileSync(join(dir, 'it_listen.rego'), LISTEN_POLICY);
  return dir;
}

/** The fields of a NoticeResponse that node-postgres hands to 'notice' listeners. */
interface Notice {
  severity?: string;
  code?: string;
  message: string;
}

/** The next event of a kind on a client, as a promise (registered before the action that causes it). */
function next<T>(client: pg.Client, event: 'notification' | 'notice'): Promise<T> {
  return new Promise((resolve) => client.once(event, (m: T) => resolve(m)));
}

describe('notifications and notices', () => {
  let t: TestGateway;
  let direct: pg.Client;
  let listenerToken: string;
  let agentToken: string;

  beforeAll(async () => {
    t = await startTestGateway({ policiesDir: policiesWithListen() });
    direct = new pg.Client({ connectionString: t.upstreamUrl });
    await direct.connect();
    listenerToken = await t.token('listener-1', ['agents', 'listeners']);
    agentToken = await t.token('agent-notify', ['agents']);
  });
  afterAll(async () => {
    await direct?.end();
    await t?.close();
  });

  it('without a permitting policy, LISTEN is denied with 42501', async () => {
    const agent = await t.client(agentToken);
    expect(await sqlstateOf(agent, 'LISTEN it_denied')).toBe('42501');
  });

  it('a NOTIFY sent directly to the database reaches a client listening through Gatehouse', async () => {
    const a = await t.client(listenerToken);
    await a.query('LISTEN it_direct');
    const arrived = next<pg.Notification>(a, 'notification');
    const sender = (await direct.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
    await direct.query("NOTIFY it_direct, 'payload from the database'");
    const n = await arrived;
    expect(n.channel).toBe('it_direct');
    expect(n.payload).toBe('payload from the database');
    expect(n.processId).toBe(sender);
  });

  it('a NOTIFY from another Gatehouse session reaches the listener, and so does pg_notify where the policy permits notifications', async () => {
    const a = await t.client(listenerToken);
    const b = await t.client(listenerToken);
    const c = await t.client(agentToken);
    await a.query('LISTEN it_via');
    const first = next<pg.Notification>(a, 'notification');
    await b.query("NOTIFY it_via, 'from b'");
    expect(await first).toMatchObject({ channel: 'it_via', payload: 'from b' });
    // An agent may not notify (deny-notify), in the function form either; a listener may.
    expect(await sqlstateOf(c, "SELECT pg_notify('it_via', 'from c')")).toBe('42501');
    expect(await sqlstateOf(c, "SELECT pg_catalog.pg_notify('it_via', 'from c')")).toBe('42501');
    const second = next<pg.Notification>(a, 'notification');
    await b.query("SELECT pg_notify('it_via', 'from b again')");
    expect(await second).toMatchObject({ channel: 'it_via', payload: 'from b again' });
    // The listener session is still in step afterwards.
    expect((await a.query('SELECT 3 AS three')).rows).toEqual([{ three: 3 }]);
  });

  it('a listener gets its own notification, in order with its query results', async () => {
    const a = await t.client(listenerToken);
    await a.query('LISTEN it_self');
    const arrived = next<pg.Notification>(a, 'notification');
    const r = await a.query("NOTIFY it_self, 'to myself'; SELECT 'after' AS s");
    expect((r as unknown as pg.QueryResult[])[1]!.rows).toEqual([{ s: 'after' }]);
    expect(await arrived).toMatchObject({ channel: 'it_self', payload: 'to myself' });
  });

  it('a warning from an allowed statement arrives as a notice event (example policies)', async () => {
    const agent = await t.client(agentToken);
    const notice = next<Notice>(agent, 'notice');
    await agent.query('ROLLBACK');
    const n = await notice;
    expect(n.severity).toBe('WARNING');
    expect(n.code).toBe('25P01');
  });

  it('RAISE NOTICE in a permitted DO block arrives as a notice event', async () => {
    const l = await t.client(listenerToken);
    const notice = next<Notice>(l, 'notice');
    await l.query("DO $$ BEGIN RAISE NOTICE 'hello from plpgsql'; END $$");
    const n = await notice;
    expect(n.severity).toBe('NOTICE');
    expect(n.code).toBe('00000');
    expect(n.message).toBe('hello from plpgsql');
  });
});
