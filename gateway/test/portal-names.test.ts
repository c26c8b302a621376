// Protocol-level portals and SQL cursors share one namespace in PostgreSQL. Gatehouse creates every
// named portal upstream under a reserved name of its own (pg/portal-table.ts), so SQL cannot read
// a masked portal by the client's name; it refuses the reserved names wherever a client could
// write them; and an Execute or Describe of a name it cannot attribute is refused, except a cursor
// the session DECLAREd. Ordinary cursor use stays transparent.

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './support/harness.ts';
import { errorCodes, rowsOf, serialize, WireClient } from './support/wire-client.ts';

const MASKED = 'SELECT id, ssn FROM clinical.patients ORDER BY id';

describe('portal names: protocol portals are out of reach of SQL cursor statements', () => {
  let t: TestGateway;
  let direct: pg.Client;
  let token: string;
  let ssns: string[];
  const leaks = (x: unknown): boolean => ssns.some((v) => JSON.stringify(x).includes(v));

  beforeAll(async () => {
    t = await startTestGateway();
    direct = new pg.Client({ connectionString: t.upstreamUrl });
    await direct.connect();
    token = await t.token('agent-portals', ['agents']);
    ssns = (await direct.query('SELECT ssn FROM clinical.patients')).rows.map((r) => r.ssn as string);
  });
  afterAll(async () => {
    await direct?.end();
    await t?.close();
  });

  it("a masked named portal is paged masked by Execute, while SQL FETCH of the client's name finds no such cursor (34000)", async () => {
    const w = await WireClient.connect(t.port, token);
    w.send(serialize.query('BEGIN'));
    await w.untilReady(1);
    w.send(serialize.parse({ text: MASKED }), serialize.bind({ portal: 'C_1' }), serialize.describe({ type: 'P', name: 'C_1' }), serialize.execute({ portal: 'C_1', rows: 2 }), serialize.sync());
    const [page] = await w.untilReady(1);
    w.send(serialize.query('FETCH 2 FROM "C_1"'));
    const [fetched] = await w.untilReady(1);
    w.close();
    expect(rowsOf(page ?? []).map((r) => r[1])).toEqual(['***', '***']);
    expect(errorCodes(fetched ?? [])).toEqual(['34000']);
    expect(leaks([page, fetched])).toBe(false);
  });

  it("the upstream portal names (seen in pg_cursors) are refused in DECLARE, FETCH, MOVE and CLOSE, simple and extended (42939)", async () => {
    const w = await WireClient.connect(t.port, token);
    w.send(serialize.query('BEGIN'));
    await w.untilReady(1);
    w.send(serialize.parse({ text: MASKED }), serialize.bind({ portal: 'leak' }), serialize.sync());
    await w.untilReady(1);
    w.send(serialize.query("SELECT name FROM pg_cursors WHERE name LIKE 'gatehouse%'"));
    const [listed] = await w.untilReady(1);
    const name = String(rowsOf(listed ?? [])[0]?.[0] ?? '');
    expect(name).toMatch(/^gatehouse_/);
    const codes: string[][] = [];
    for (const sql of [`FETCH 3 FROM ${name}`, `MOVE 1 IN "${name}"`, `CLOSE ${name}`, `DECLARE ${name}x CURSOR FOR SELECT 1`]) {
      w.send(serialize.query('SAVEPOINT s'), serialize.query(sql), serialize.query('ROLLBACK TO SAVEPOINT s'));
      const groups = await w.untilReady(3);
      codes.push(errorCodes(groups[1] ?? []));
    }
    w.send(serialize.parse({ text: `FETCH 3 FROM ${name}` }), serialize.bind({}), serialize.execute({}), serialize.sync());
    const [extended] = await w.untilReady(1);
    w.close();
    expect(codes).toEqual([['42939'], ['42939'], ['42939'], ['42939']]);
    expect(errorCodes(extended ?? [])).toEqual(['42939']);
    expect(leaks([codes, extended])).toBe(false);
  });

  it('reserved names are refused as protocol portal names too, in Bind, Execute, Describe and Close (42939)', async () => {
    const w = await WireClient.connect(t.port, token);
    const codes: string[][] = [];
    for (const m of [
      [serialize.parse({ text: 'SELECT 1' }), serialize.bind({ portal: 'gatehouse_x' })],
      [serialize.execute({ portal: 'gatehouse_x' })],
      [serialize.describe({ type: 'P', name: 'Gatehouse_x' })],
      [serialize.close({ type: 'P', name: 'gatehouse_x' })],
    ]) {
      w.send(...m, serialize.sync());
      codes.push(errorCodes((await w.untilReady(1))[0] ?? []));
    }
    w.close();
    expect(codes).toEqual([['42939'], ['42939'], ['42939'], ['42939']]);
  });

  it('an Execute of a name neither bound nor DECLAREd is refused (34000); a DECLAREd cursor of an allowed table runs by Execute', async () => {
    const w = await WireClient.connect(t.port, token);
    w.send(serialize.query('BEGIN'), serialize.query('DECLARE v CURSOR FOR SELECT id FROM clinical.visits WHERE id <= 3 ORDER BY id'));
    await w.untilReady(2);
    w.send(serialize.execute({ portal: 'v', rows: 2 }), serialize.sync());
    const [cursor] = await w.untilReady(1);
    w.send(serialize.execute({ portal: 'nope' }), serialize.sync());
    const [unknown] = await w.untilReady(1);
    w.close();
    expect(rowsOf(cursor ?? [])).toEqual([['1'], ['2']]);
    expect(errorCodes(unknown ?? [])).toEqual(['34000']);
  });
});
