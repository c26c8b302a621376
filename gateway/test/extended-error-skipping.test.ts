// After an error in an extended-protocol batch PostgreSQL discards every message until Sync, a
// simple Query included. Gatehouse must follow that rule exactly: each response stays attributed to
// the request it answers (so masked rows are masked and errors of masked statements scrubbed), and
// the client sees the same sequence of messages as it would from PostgreSQL directly.

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway, recorded } from './support/harness.ts';
import { directSession, sendBothWays, type BothAnswers } from './support/differential.ts';
import { errorCodes, names, rowsOf, serialize, WireClient, type Message } from './support/wire-client.ts';

const shape = (groups: Message[][]): string[][] => groups.map(names);

describe('errors in extended-protocol batches: everything until Sync is skipped, as in PostgreSQL', () => {
  let t: TestGateway;
  let direct: pg.Client;
  let token: string;
  let ssns: string[];
  let firstIds: number[];

  const leaks = (x: unknown): boolean => {
    const s = JSON.stringify(x);
    return ssns.some((v) => s.includes(v));
  };
  /** Sends the same messages through Gatehouse (on `w`) and straight to PostgreSQL; returns both answers. */
  const bothWays = (w: WireClient, count: number, ...messages: Buffer[]): Promise<BothAnswers> => sendBothWays(w, t.upstreamUrl, count, ...messages);
  const statementOutcome = async (text: string): Promise<string | undefined> => {
    const find = (records: ReturnType<TestGateway['audit']>) => {
      const stmt = records.find((r) => r.type === 'statement' && r.statement === recorded(text));
      const id = stmt?.type === 'statement' ? stmt.decision_id : null;
      const outcome = records.find((r) => r.type === 'outcome' && r.decision_id === id);
      return outcome?.type === 'outcome' ? outcome.outcome.status : undefined;
    };
    return find(await t.auditUntil((records) => find(records) !== undefined));
  };

  beforeAll(async () => {
    t = await startTestGateway();
    direct = new pg.Client({ connectionString: t.upstreamUrl });
    await direct.connect();
    token = await t.token('agent-skip', ['agents']);
    const rows = (await direct.query('SELECT id, ssn FROM clinical.patients ORDER BY id')).rows as { id: number; ssn: string }[];
    ssns = rows.map((r) => r.ssn);
    firstIds = rows.slice(0, 3).map((r) => r.id);
  });
  afterAll(async () => {
    await direct?.end();
    await t?.close();
  });

  it('a Query after an error and before Sync is skipped; the next masked Query is masked, and its errors quote masked values only', async () => {
    const w = await WireClient.connect(t.port, token);
    const skipped = 'SELECT id, ssn FROM clinical.patients ORDER BY id LIMIT 2 -- skipped';
    const { gh, pg: pgGroups } = await bothWays(
      w,
      1,
      serialize.parse({ text: "SELECT 'x'::int" }),
      serialize.bind({}),
      serialize.execute({}),
      serialize.query(skipped),
      serialize.sync(),
    );
    expect(shape(gh)).toEqual(shape(pgGroups));
    expect(shape(gh)).toEqual([['error', 'readyForQuery']]);
    expect(errorCodes(gh[0]!)).toEqual(['22P02']);
    expect(await statementOutcome(skipped)).toBe('aborted');

    w.send(serialize.query('SELECT id, ssn FROM clinical.patients ORDER BY id LIMIT 3'));
    const [masked] = await w.untilReady(1);
    expect(rowsOf(masked!)).toEqual(firstIds.map((id) => [String(id), '***']));

    // A masked statement the server fails at run time, with an error that quotes the value: the
    // database only ever saw the masked value, so that is what the message quotes.
    w.send(serialize.query('SELECT id, ssn::int FROM clinical.patients WHERE id = 1'));
    const [failed] = await w.untilReady(1);
    expect(errorCodes(failed!)).toEqual(['22P02']);
    expect(failed!.filter((m) => m.name === 'error').map((m) => (m as { message?: string }).message)).toEqual([
      'invalid input syntax for type integer: "***"',
    ]);
    expect(leaks(failed)).toBe(false);
    w.close();
  });

  it('several failing batches pipelined back to back, each with Query, Describe and Close before its Sync, answer in step', async () => {
    const w = await WireClient.connect(t.port, token);
    const messages: Buffer[] = [];
    for (let i = 0; i < 3; i++) {
      messages.push(
        serialize.parse({ text: `SELECT 'x${i}'::int` }),
        serialize.bind({}),
        serialize.describe({ type: 'P' }),
        serialize.execute({}),
        serialize.query('SELECT ssn FROM clinical.patients ORDER BY id LIMIT 1'),
        serialize.close({ type: 'S', name: 'nothing' }),
        serialize.sync(),
        serialize.query(`SELECT id, ssn FROM clinical.patients WHERE id = ${firstIds[i]}`),
      );
    }
    // A last batch fails in its Execute, possibly after some masked rows went out.
    messages.push(
      serialize.parse({ text: 'SELECT ssn FROM clinical.patients WHERE 1 / (id - $1) <> 0' }),
      serialize.bind({ values: [String(firstIds[1])] }),
      serialize.describe({ type: 'P' }),
      serialize.execute({}),
      serialize.query('SELECT ssn FROM clinical.patients'),
      serialize.sync(),
      serialize.query(`SELECT ssn FROM clinical.patients WHERE id = ${firstIds[2]}`),
    );
    const { gh, pg: pgGroups } = await bothWays(w, 8, ...messages);
    expect(shape(gh)).toEqual(shape(pgGroups));
    for (let i = 0; i < 3; i++) {
      expect(errorCodes(gh[2 * i]!)).toEqual(['22P02']);
      expect(rowsOf(gh[2 * i + 1]!)).toEqual([[String(firstIds[i]), '***']]);
    }
    expect(errorCodes(gh[6]!)).toEqual(['22012']);
    for (const row of rowsOf(gh[6]!)) expect(row).toEqual(['***']);
    expect(rowsOf(gh[7]!)).toEqual([['***']]);
    expect(leaks(gh)).toBe(false);
    w.close();
  });

  it('a Query inside a batch that has not failed runs with its own ReadyForQuery, masked, as in PostgreSQL', async () => {
    const w = await WireClient.connect(t.port, token);
    const { gh, pg: pgGroups } = await bothWays(
      w,
      2,
      serialize.parse({ text: 'SELECT ssn FROM clinical.patients WHERE id = $1' }),
      serialize.bind({ values: [String(firstIds[0])] }),
      serialize.execute({}),
      serialize.query(`SELECT id, ssn FROM clinical.patients WHERE id = ${firstIds[1]}`),
      serialize.bind({ values: [String(firstIds[2])] }), // the Query dropped the unnamed statement
      serialize.execute({}),
      serialize.sync(),
    );
    expect(shape(gh)).toEqual(shape(pgGroups));
    expect(rowsOf(gh[0]!)).toEqual([['***'], [String(firstIds[1]), '***']]);
    expect(errorCodes(gh[1]!)).toEqual(['26000']);
    expect(leaks(gh)).toBe(false);
    w.close();
  });

  it('a refused Query in a batch that already failed is skipped: no extra error or ReadyForQuery', async () => {
    const w = await WireClient.connect(t.port, token);
    const refused = 'DROP TABLE clinical.visits';
    w.send(
      serialize.parse({ text: "SELECT 'x'::int" }),
      serialize.bind({}),
      serialize.execute({}),
      serialize.query(refused),
      serialize.parse({ text: 'SELECT 1' }),
      serialize.bind({}),
      serialize.execute({}),
      serialize.sync(),
      serialize.query('SELECT 2 AS two'),
    );
    const [batch, next] = await w.untilReady(2);
    // What PostgreSQL answers to the same batch with any Query in place of the refused one.
    expect(names(batch!)).toEqual(['error', 'readyForQuery']);
    expect(errorCodes(batch!)).toEqual(['22P02']);
    expect(rowsOf(next!)).toEqual([['2']]);
    expect(await statementOutcome(refused)).toBe('refused');
    w.close();
  });

  it('statements sent after the batch has failed are never run but are audited: refused by policy, or aborted', async () => {
    const w = await WireClient.connect(t.port, token);
    w.send(serialize.parse({ text: "SELECT 'y'::int" }), serialize.bind({}), serialize.execute({}), serialize.flush());
    // The upstream error has arrived: Gatehouse now discards until Sync, as PostgreSQL does.
    const first = await w.next();
    expect(first.name).toBe('error');
    const refused = 'DROP TABLE clinical.visits /* discarded */';
    const allowed = 'SELECT 3 AS discarded_three';
    w.send(serialize.query(refused), serialize.parse({ text: allowed }), serialize.sync());
    const [rest] = await w.untilReady(1);
    expect(names(rest!)).toEqual(['readyForQuery']);
    expect(await statementOutcome(refused)).toBe('refused');
    expect(await statementOutcome(allowed)).toBe('aborted');
    w.close();
  });

  it('a refused Query in a batch that has not failed fails the batch the way a failing Query does', async () => {
    const w = await WireClient.connect(t.port, token);
    w.send(serialize.query('SHOW application_name'));
    const [shown] = await w.untilReady(1);
    const before = rowsOf(shown!)[0];
    const batch = (failing: string): Buffer[] => [
      serialize.parse({ text: "SET application_name = 'set_in_the_failed_batch'" }),
      serialize.bind({}),
      serialize.execute({}),
      serialize.query(failing),
      serialize.parse({ text: 'SELECT 3 AS three' }),
      serialize.bind({}),
      serialize.execute({}),
      serialize.sync(),
      serialize.query('SHOW application_name'),
    ];
    const d = await directSession(t.upstreamUrl);
    d.send(...batch('SELECT 1/0'));
    w.send(...batch('DROP TABLE clinical.visits'));
    const [gh, pgGroups] = await Promise.all([w.untilReady(3), d.untilReady(3)]);
    d.close();
    expect(shape(gh)).toEqual(shape(pgGroups));
    expect(errorCodes(pgGroups[0]!)).toEqual(['22012']);
    expect(errorCodes(gh[0]!)).toEqual(['42501']);
    expect(gh[0]!.at(-1)?.status).toBe('I');
    expect(rowsOf(gh[1]!)).toEqual([['3']]); // the rest of the batch runs, as after a failing Query
    // The SET was rolled back with the batch's implicit transaction, as PostgreSQL does.
    expect(rowsOf(gh[2]!)).toEqual([before]);
    w.close();
  });

  it("a search_path probe that the server skips does not stall the session", async () => {
    const w = await WireClient.connect(t.port, token);
    w.send(
      serialize.parse({ text: "SELECT 'x'::int" }),
      serialize.bind({}),
      serialize.execute({}),
      serialize.query('SET search_path = clinical, public'), // skipped: Gatehouse's probe behind it too
      serialize.execute({}),
      serialize.sync(),
      serialize.query('SHOW search_path'),
      serialize.query('SELECT ssn FROM patients ORDER BY id LIMIT 2'),
    );
    const [batch, show, read] = await w.untilReady(3);
    expect(names(batch!)).toEqual(['error', 'readyForQuery']);
    expect(rowsOf(show!)).not.toEqual([['clinical, public']]);
    expect(leaks(read)).toBe(false);
    w.close();
  });

  it('node-postgres queued queries failing in Bind or Execute keep every later answer in place', async () => {
    const c = await t.client(token);
    const work = Array.from({ length: 24 }, (_, i) => {
      const id = firstIds[i % 3]!;
      switch (i % 4) {
        case 0:
          return c.query('SELECT $1::int AS n', ['not a number']).then(() => 'ok', (e: { code?: string }) => e.code);
        case 1:
          return c.query('SELECT id, ssn FROM clinical.patients WHERE id = $1', [id]).then((r) => r.rows);
        case 2:
          return c.query('SELECT ssn FROM clinical.patients WHERE 1/(id - $1) > 0 ORDER BY id', [id]).then(() => 'ok', (e: { code?: string }) => e.code);
        default:
          return c.query(`SELECT id, ssn FROM clinical.patients WHERE id = ${id}`).then((r) => r.rows);
      }
    });
    const results = await Promise.all(work);
    results.forEach((r, i) => {
      const id = firstIds[i % 3]!;
      if (i % 4 === 0) expect(r, `query ${i}`).toBe('22P02');
      else if (i % 4 === 2) expect(r, `query ${i}`).toBe('22012');
      else expect(r, `query ${i}`).toEqual([{ id, ssn: '***' }]);
    });
    expect(leaks(results)).toBe(false);
  });
});
