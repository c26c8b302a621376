// The fixture of the lock tests (lock-prefix.test.ts, lock-ahead.test.ts): a gateway without the lock
// poll (a migration's lock is met by Gatehouse's own LOCK, never first by the decision's 55P03), two
// fresh tables `a` (ids 1 and 2) and `b` (empty), an agent's token, and a session straight to PostgreSQL.

import pg from 'pg';
import { startTestGateway, type TestGateway } from './harness.ts';

export interface TwoTables {
  t: TestGateway;
  direct: pg.Client;
  token: string;
  close(): Promise<void>;
}

export async function startTwoTables(a: string, b: string, subject: string): Promise<TwoTables> {
  const t = await startTestGateway({ catalog: { lockPollMs: 0 } });
  const direct = new pg.Client({ connectionString: t.upstreamUrl });
  await direct.connect();
  await direct.query(`DROP TABLE IF EXISTS ${a}, ${b}`);
  await direct.query(`CREATE TABLE ${a} (id int PRIMARY KEY, v text); INSERT INTO ${a} VALUES (1, 'a'), (2, 'b')`);
  await direct.query(`CREATE TABLE ${b} (id int, v text)`);
  const token = await t.token(subject, ['agents', 'bench']);
  // Any catalog read still owed after the tables were made is done before the tests decide anything.
  const c = await t.client(token);
  try {
    for (let i = 0; i < 200; i++) {
      if (await c.query(`SELECT count(*) FROM ${b}`).then(() => true, () => false)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await c.end();
  }
  return {
    t,
    direct,
    token,
    close: async () => {
      await direct.query(`DROP TABLE IF EXISTS ${a}, ${b}`).catch(() => undefined);
      await direct.end();
      await t.close();
    },
  };
}
