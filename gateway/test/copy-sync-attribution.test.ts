// While a COPY ... FROM STDIN is in progress PostgreSQL ignores Sync and Flush. A Sync the client
// sends then must not be counted as a request that gets its own ReadyForQuery: if it were, every
// later response would be attributed to the request before the one it answers, and rows would be
// relayed under another statement's masking and content detection, and audited under it. Raw
// protocol clients send the same bytes through Gatehouse and straight to PostgreSQL.

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recorded, startTestGateway, type TestGateway } from './support/harness.ts';
import { bothWays as bothWaysThrough, directSession, type BothAnswers } from './support/differential.ts';
import { errorCodes, names, rowsOf, serialize, WireClient, type Message } from './support/wire-client.ts';

const TABLE = 'public.pgbench_copy_sync';
const VISIT_ID = 990_101;
const SSN = '219-09-9911';
const PHONE = '(415) 555-0177';
const NOTE = `Callback ${PHONE}; SSN ${SSN}.`;
const SECRETS = [SSN, PHONE, '2190999', '4155550177'];
const NOTES_SQL = `SELECT id, notes FROM clinical.visits WHERE id = ${VISIT_ID}`;
const PATIENTS_SQL = 'SELECT id, ssn FROM clinical.patients ORDER BY id LIMIT 3';

const copyData = (text: string): Buffer => serialize.copyData(Buffer.from(text));

describe.each(['rego', 'cedar'] as const)('Sync and Flush during COPY FROM STDIN (%s)', (engine) => {
  let t: TestGateway;
  let direct: pg.Client;
  let token: string;
  let ssns: string[];

  const expectClean = (groups: Message[][]): void => {
    const text = JSON.stringify(groups);
    for (const s of [...SECRETS, ...ssns]) expect(text, `leaked ${s}`).not.toContain(s);
  };

  /** Sends the same bytes through Gatehouse and straight to PostgreSQL; returns both answers. */
  const bothWays = (count: number, ...messages: Buffer[]): Promise<BothAnswers> => bothWaysThrough(t, token, count, ...messages);

  const outcomeOf = async (text: string): Promise<{ status: string; rows?: number | null; sqlstate?: string } | undefined> => {
    const find = (records: ReturnType<TestGateway['audit']>) => {
      const stmts = records.filter((r) => r.type === 'statement' && r.statement === recorded(text));
      const last = stmts[stmts.length - 1];
      const id = last?.type === 'statement' ? last.decision_id : null;
      const o = records.find((r) => r.type === 'outcome' && r.decision_id === id);
      return o?.type === 'outcome' ? (o.outcome as { status: string; rows?: number | null; sqlstate?: string }) : undefined;
    };
    return find(await t.auditUntil((records) => find(records) !== undefined));
  };

  beforeAll(async () => {
    t = await startTestGateway({ engine });
    direct = new pg.Client({ connectionString: t.upstreamUrl });
    await direct.connect();
    await direct.query(`DROP TABLE IF EXISTS ${TABLE}`);
    await direct.query(`CREATE TABLE ${TABLE} (v int)`);
    await direct.query('DELETE FROM clinical.visits WHERE id = $1', [VISIT_ID]);
    await direct.query(
      `INSERT INTO clinical.visits (id, patient_id, visit_date, reason, notes)
       SELECT $1, min(id), date '2026-01-02', 'follow-up', $2 FROM clinical.patients`,
      [VISIT_ID, NOTE],
    );
    ssns = ((await direct.query('SELECT ssn FROM clinical.patients ORDER BY id LIMIT 3')).rows as { ssn: string }[]).map((r) => r.ssn);
    token = await t.token('copy-sync@example.com', ['agents', 'support', 'bench']);
  });
  afterAll(async () => {
    await direct?.query(`DROP TABLE IF EXISTS ${TABLE}`);
    await direct?.end();
    await t?.close();
  });

  it('simple protocol: a Sync and a Flush inside the COPY are ignored; the failing, detected and masked Queries after it keep their own answers', async () => {
    const { gh, pg: truth } = await bothWays(
      4,
      serialize.query(`COPY ${TABLE} FROM STDIN`),
      serialize.sync(),
      copyData('1\n'),
      serialize.flush(),
      serialize.sync(),
      copyData('2\n'),
      serialize.copyDone(),
      serialize.query('SELECT 1/0'),
      serialize.query(NOTES_SQL),
      serialize.query(PATIENTS_SQL),
    );
    expect(gh.map(names)).toEqual(truth.map(names));
    expect(names(gh[0]!)).toEqual(['copyInResponse', 'commandComplete', 'readyForQuery']);
    expect(errorCodes(gh[1]!)).toEqual(['22012']);
    // The note comes back scanned by its own statement's detectors, the patients masked.
    const notes = rowsOf(gh[2]!);
    expect(notes).toHaveLength(1);
    expect(String(notes[0]![1])).toContain('[SSN]');
    expect(rowsOf(gh[3]!)).toHaveLength(3);
    expectClean(gh);
    // Each statement's outcome is its own.
    expect(await outcomeOf('SELECT 1/0')).toMatchObject({ status: 'error', sqlstate: '22012' });
    expect(await outcomeOf(NOTES_SQL)).toMatchObject({ status: 'ok', rows: 1 });
    expect(await outcomeOf(PATIENTS_SQL)).toMatchObject({ status: 'ok', rows: 3 });
  });

  it('extended protocol: a Sync before CopyDone is ignored, the batch ends at the Sync after it', async () => {
    const { gh, pg: truth } = await bothWays(
      4,
      serialize.parse({ text: `COPY ${TABLE} FROM STDIN` }),
      serialize.bind({}),
      serialize.execute({}),
      serialize.sync(),
      copyData('3\n'),
      serialize.copyDone(),
      serialize.sync(),
      serialize.query('SELECT 1/0'),
      serialize.query(NOTES_SQL),
      serialize.query(PATIENTS_SQL),
    );
    expect(gh.map(names)).toEqual(truth.map(names));
    expect(names(gh[0]!)).toEqual(['parseComplete', 'bindComplete', 'copyInResponse', 'commandComplete', 'readyForQuery']);
    expect(errorCodes(gh[1]!)).toEqual(['22012']);
    expect(String(rowsOf(gh[2]!)[0]![1])).toContain('[SSN]');
    expectClean(gh);
  });

  it('a COPY that fails on bad data before it reads the Sync: PostgreSQL answers that Sync, Gatehouse drops it (documented)', async () => {
    const w = await WireClient.connect(t.port, token);
    const d = await directSession(t.upstreamUrl);
    const messages = [
      serialize.query(`COPY ${TABLE} FROM STDIN`),
      copyData('not a number\n'),
      serialize.sync(),
      serialize.copyDone(),
      serialize.query(NOTES_SQL),
      serialize.query(PATIENTS_SQL),
    ];
    w.send(...messages);
    d.send(...messages);
    const [gh, truth] = await Promise.all([w.untilReady(3), d.untilReady(4)]);
    w.close();
    d.close();
    expect(names(truth[1]!)).toEqual(['readyForQuery']);
    expect(gh.map(names)).toEqual([truth[0]!, truth[2]!, truth[3]!].map(names));
    expect(errorCodes(gh[0]!)).toEqual(['22P02']);
    expect(String(rowsOf(gh[1]!)[0]![1])).toContain('[SSN]');
    expectClean(gh);
  });

  it('a COPY that cannot start (no such table): the Sync pipelined behind it is answered', async () => {
    const { gh, pg: truth } = await bothWays(
      3,
      serialize.parse({ text: 'COPY public.pgbench_no_such_table FROM STDIN' }),
      serialize.bind({}),
      serialize.execute({}),
      serialize.sync(),
      serialize.query(NOTES_SQL),
      serialize.query(PATIENTS_SQL),
    );
    expect(gh.map(names)).toEqual(truth.map(names));
    expect(errorCodes(gh[0]!)).toEqual(['42P01']);
    expectClean(gh);
  });

  it('a Query sent while data is being copied in ends the session with 08P01 (PostgreSQL would swallow it as an error)', async () => {
    const w = await WireClient.connect(t.port, token);
    w.send(serialize.query(`COPY ${TABLE} FROM STDIN`), copyData('4\n'), serialize.query(PATIENTS_SQL));
    const seen: Message[] = [];
    for await (const m of w.untilClosed()) seen.push(m);
    expect(names(seen).filter((n) => n !== 'copyInResponse')).toEqual(['error']);
    expect(errorCodes(seen)).toEqual(['08P01']);
    expectClean([seen]);
  });
});
