// Gatehouse decides each Execute on the SQL it believes a named prepared statement holds: that
// belief must match what the database actually prepared, even when the database refused or skipped
// the client's Parse or Close. Otherwise a masked statement runs as if it were another one.

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './support/harness.ts';
import { errorCodes, rowsOf, serialize, WireClient, type Message } from './support/wire-client.ts';

const MASKED = 'SELECT id, ssn FROM clinical.patients WHERE id = $1';
const HARMLESS = "SELECT $1::int AS id, 'nothing'::text AS ssn";

describe('prepared statement names stay in step with the database', () => {
  let t: TestGateway;
  let direct: pg.Client;
  let w: WireClient;
  let ssnOf: Map<number, string>;

  beforeAll(async () => {
    t = await startTestGateway();
    direct = new pg.Client({ connectionString: t.upstreamUrl });
    await direct.connect();
    ssnOf = new Map((await direct.query('SELECT id, ssn FROM clinical.patients')).rows.map((r: { id: number; ssn: string }) => [r.id, r.ssn]));
    w = await WireClient.connect(t.port, await t.token('agent-prepared', ['agents']));
  });
  afterAll(async () => {
    w?.close();
    await direct?.end();
    await t?.close();
  });

  /** Prepares `name` as the masked statement and checks that executing it is masked. */
  async function prepareMasked(name: string, id: number): Promise<void> {
    w.send(serialize.parse({ name, text: MASKED }), serialize.bind({ statement: name, values: [String(id)] }), serialize.execute({}), serialize.sync());
    const [batch] = await w.untilReady(1);
    expect(rowsOf(batch!)).toEqual([[String(id), '***']]);
  }

  /** Executes `name` and returns the batch; it must never carry the patient's real SSN. */
  async function executeNoLeak(name: string, id: number): Promise<Message[]> {
    w.send(serialize.bind({ statement: name, values: [String(id)] }), serialize.describe({ type: 'P' }), serialize.execute({}), serialize.sync());
    const [batch] = await w.untilReady(1);
    const real = ssnOf.get(id)!;
    expect(JSON.stringify(batch)).not.toContain(real);
    const rows = rowsOf(batch!);
    if (rows.length > 0) expect(rows).toEqual([[String(id), rows[0]![1] === 'nothing' ? 'nothing' : '***']]);
    return batch!;
  }

  it('a Parse the database refuses (name already in use) does not change what Gatehouse decides on', async () => {
    await prepareMasked('dup', 1);
    w.send(serialize.parse({ name: 'dup', text: HARMLESS }), serialize.sync());
    const [refused] = await w.untilReady(1);
    expect(errorCodes(refused!)).toEqual(['42P05']);
    // The database still holds the masked statement under "dup": executing it must be masked.
    await executeNoLeak('dup', 1);
  });

  it('a Close the database skipped (batch already failed) does not make Gatehouse forget the statement', async () => {
    await prepareMasked('kept', 2);
    w.send(serialize.bind({ statement: 'no_such_statement' }), serialize.close({ type: 'S', name: 'kept' }), serialize.sync());
    const [failed] = await w.untilReady(1);
    expect(errorCodes(failed!)).toEqual(['26000']);
    await executeNoLeak('kept', 2);
  });

  it('a Close and Parse the database skipped do not replace the statement Gatehouse decides on', async () => {
    await prepareMasked('swap', 3);
    w.send(
      serialize.bind({ statement: 'no_such_statement' }),
      serialize.close({ type: 'S', name: 'swap' }),
      serialize.parse({ name: 'swap', text: HARMLESS }),
      serialize.sync(),
    );
    const [failed] = await w.untilReady(1);
    expect(errorCodes(failed!)).toEqual(['26000']);
    await executeNoLeak('swap', 3);
  });

  it('a Close and Parse the database did run are followed (control)', async () => {
    await prepareMasked('redo', 4);
    w.send(serialize.close({ type: 'S', name: 'redo' }), serialize.parse({ name: 'redo', text: HARMLESS }), serialize.sync());
    const [ok] = await w.untilReady(1);
    expect(errorCodes(ok!)).toEqual([]);
    const batch = await executeNoLeak('redo', 4);
    expect(rowsOf(batch)).toEqual([['4', 'nothing']]);
  });

  it("Gatehouse's own upstream statement names cannot be run with SQL-level EXECUTE", async () => {
    const c = await t.client(await t.token('agent-exec', ['agents']));
    await c.query({ name: 'named_masked', text: MASKED, values: [4] });
    const listed = await c.query("SELECT name FROM pg_prepared_statements WHERE statement LIKE '%patients%'");
    const upstreamName = listed.rows.map((r: { name: string }) => r.name).find((n: string) => n.startsWith('gatehouse_'));
    expect(upstreamName).toBeDefined();
    let code: string | null = null;
    try {
      await c.query(`EXECUTE "${upstreamName}"(4)`);
    } catch (e) {
      code = (e as { code?: string }).code ?? null;
    }
    expect(code).toBe('42501');
  });
});
