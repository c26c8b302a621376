// What the differential protocol fuzzer (protocol-fuzz.test.ts) found, kept as regression tests:
// each sends the round that diverged, through Gatehouse and straight to PostgreSQL, and compares.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './support/harness.ts';
import { FUZZ_VISIT_ID } from './support/protocol-fuzz/generate.ts';
import { bothWays as bothWaysThrough, directSession, type BothAnswers } from './support/differential.ts';
import { prepareDatabase } from './support/protocol-fuzz/session.ts';
import { errorCodes, names, rowsOf, serialize, WireClient, type Message } from './support/wire-client.ts';

describe('protocol fuzzer findings', () => {
  let t: TestGateway;
  let token: string;
  let secrets: string[];
  beforeAll(async () => {
    t = await startTestGateway();
    secrets = await prepareDatabase(t.upstreamUrl);
    token = await t.token('fuzz-findings', ['breakglass', 'bench']);
  });
  afterAll(async () => t?.close());

  const bothWays = (count: number, ...messages: Buffer[]): Promise<BothAnswers> => bothWaysThrough(t, token, count, ...messages);

  it('an empty query string gets EmptyQueryResponse, as from PostgreSQL (the example policies allow it)', async () => {
    const { gh, pg } = await bothWays(2, serialize.query(''), serialize.query(' ; '));
    expect(gh.map(names)).toEqual(pg.map(names));
    expect(names(gh[0]!)).toEqual(['emptyQuery', 'readyForQuery']);
  });

  it('a named Parse of a name in use with a syntax error reports the syntax error first, as PostgreSQL does', async () => {
    const { gh, pg } = await bothWays(
      2,
      serialize.parse({ name: 's1', text: 'SELECT 1' }),
      serialize.sync(),
      serialize.parse({ name: 's1', text: 'SELEC 1' }),
      serialize.sync(),
    );
    expect(gh.map(names)).toEqual(pg.map(names));
    expect(errorCodes(gh[1]!)).toEqual(['42601']);
  });

  it('an Execute that fails after a COPY, with a Describe pipelined behind it: the Describe is skipped on both sides', async () => {
    // The failing Execute is of the unnamed portal bound to a COPY FROM STDIN (the simple Query
    // dropped it upstream), so Gatehouse held the Describe until the answer; released before it knew
    // the server was skipping, the Describe was counted and the session desynchronised.
    const { gh, pg } = await bothWays(
      3,
      serialize.parse({ text: 'COPY public.pgbench_fuzz FROM STDIN' }),
      serialize.bind({}),
      serialize.execute({}),
      serialize.copyDone(),
      serialize.query('SELECT 1/0'),
      serialize.execute({ rows: 2 }),
      serialize.describe({ type: 'S', name: '' }),
      serialize.flush(),
      serialize.sync(),
      serialize.query('SELECT 5 AS five'),
    );
    expect(gh.map(names)).toEqual(pg.map(names));
    expect(gh.map(errorCodes)).toEqual(pg.map(errorCodes));
  });

  it('an Execute of a statement under content detection only, with no Describe from the client, gets its rows scanned (not a relay failure)', async () => {
    const support = await t.token('fuzz-findings-support', ['agents', 'support', 'bench']);
    const w = await WireClient.connect(t.port, support);
    try {
      w.send(
        serialize.parse({ name: 'notes', text: `SELECT id, notes, 'N' AS tag FROM clinical.visits WHERE id = ${FUZZ_VISIT_ID}` }),
        serialize.bind({ statement: 'notes', portal: '' }),
        serialize.execute({ portal: '', rows: 1 }),
        serialize.sync(),
      );
      const [group] = await w.untilReady(1);
      expect(names(group!)).toEqual(['parseComplete', 'bindComplete', 'dataRow', 'portalSuspended', 'readyForQuery']);
      const text = JSON.stringify(group);
      for (const secret of secrets) expect(text).not.toContain(secret);
      expect(text).toContain('[SSN]');
    } finally {
      w.close();
    }
  });
  it('a Close of a statement skipped after a failed Bind, then a Describe after Sync: the statement still exists, as in PostgreSQL', async () => {
    // Seed 1000, round 691: Gatehouse dropped s2 when the Close went out; the server skipped the
    // Close, but the Describe behind the Sync was decided before the undo arrived (26000 for s2).
    const { gh, pg } = await bothWays(
      5,
      serialize.parse({ name: 's2', text: 'SELECT 1 AS a' }),
      serialize.sync(),
      serialize.parse({ text: 'SELECT 2' }),
      serialize.query('SELECT 3'), // drops the unnamed statement upstream
      serialize.sync(),
      serialize.bind({}),
      serialize.close({ type: 'S', name: 's2' } as never),
      serialize.sync(),
      serialize.describe({ type: 'S', name: 's2' }),
      serialize.sync(),
    );
    expect(gh.map(names)).toEqual(pg.map(names));
    expect(gh.map(errorCodes)).toEqual(pg.map(errorCodes));
    expect(names(gh[4]!)).toEqual(['parameterDescription', 'rowDescription', 'readyForQuery']);
  });

  it('a named Parse that fails upstream, then the same name parsed again after Sync: prepared, as in PostgreSQL', async () => {
    const { gh, pg } = await bothWays(
      2,
      serialize.parse({ name: 's5', text: 'SELECT 1::no_such_type_fuzz' }),
      serialize.sync(),
      serialize.parse({ name: 's5', text: 'SELECT 1 AS a' }),
      serialize.sync(),
    );
    expect(gh.map(names)).toEqual(pg.map(names));
    expect(gh.map(errorCodes)).toEqual([['42704'], []]);
  });
  it('Execute of the unnamed portal a failed simple-Query statement left in an aborted block: 34000 through Gatehouse, 25P02 from PostgreSQL (documented)', async () => {
    // PostgreSQL keeps the portal of a simple-Query statement that failed while running until the
    // block ends; Gatehouse never bound it, so it refuses the Execute as an unknown portal rather
    // than forward what it did not decide. Both are errors; the block stays aborted on both sides.
    const { gh, pg } = await bothWays(
      4,
      serialize.query('BEGIN'),
      serialize.query('SELECT 1 / g FROM generate_series(0, 1) g'),
      serialize.execute({}),
      serialize.sync(),
      serialize.query('ROLLBACK'),
    );
    expect(gh.map(names)).toEqual(pg.map(names));
    expect(pg.map(errorCodes)).toEqual([[], ['22012'], ['25P02'], []]);
    expect(gh.map(errorCodes)).toEqual([[], ['22012'], ['34000'], []]);
    expect(gh[3]!.at(-1)).toMatchObject({ name: 'readyForQuery', status: 'I' });
  });

  it('a Parse of the unnamed statement that fails drops the unnamed statement before it, as PostgreSQL does (seed 3003)', async () => {
    const { gh, pg } = await bothWays(
      4,
      serialize.parse({ text: 'BEGIN' }),
      serialize.parse({ text: 'SELEC 1' }),
      serialize.sync(),
      serialize.describe({ type: 'S', name: '' }),
      serialize.sync(),
      // Inside a block (refused after a forwarded message: the failing message goes upstream too).
      serialize.query('BEGIN'),
      serialize.parse({ text: 'SELECT 1 AS a' }),
      serialize.parse({ text: 'SELEC 2' }),
      serialize.bind({}),
      serialize.sync(),
    );
    expect(gh.map(names)).toEqual(pg.map(names));
    expect(gh.map(errorCodes)).toEqual(pg.map(errorCodes));
    expect(errorCodes(gh[1]!)).toEqual(['26000']);
    expect(errorCodes(gh[3]!)).toEqual(['42601']);
  });

  it('a simple Query refused by Gatehouse drops the unnamed statement, as PostgreSQL does at every Query (seed 5007)', async () => {
    const { gh, pg } = await bothWays(
      3,
      serialize.parse({ text: 'SELECT 1 AS a' }),
      serialize.sync(),
      serialize.query('COMMIT; SELEC 1'), // a syntax error: Gatehouse refuses it without forwarding
      serialize.bind({}),
      serialize.parse({ name: 's2', text: 'SELECT 2' }),
      serialize.sync(),
    );
    expect(gh.map(names)).toEqual(pg.map(names));
    expect(gh.map(errorCodes)).toEqual([[], ['42601'], ['26000']]);
  });

  // A statement that fails only after it has started: the messages pipelined behind it are
  // forwarded (decided and sent) before the server reports the error and skips them until Sync.
  const FAILS_LATE = 'SELECT 1 / (length(pg_sleep(0.3)::text) * 0) AS fails_late';

  it('a Parse of the unnamed statement skipped after an error leaves the unnamed statement it would have replaced, as in PostgreSQL (seed 9007)', async () => {
    // Gatehouse replaced the unnamed statement when the Parse went out; on the error it dropped the
    // skipped Parse's statement and restored nothing, so the Bind after Sync got 26000.
    const { gh, pg } = await bothWays(
      2,
      serialize.parse({ text: 'SELECT 1 AS a' }),
      serialize.parse({ name: 'late', text: FAILS_LATE }),
      serialize.bind({ statement: 'late', portal: 'p1' }),
      serialize.execute({ portal: 'p1' }),
      serialize.parse({ text: 'SELECT 2 AS b' }), // skipped upstream
      serialize.sync(),
      serialize.bind({}),
      serialize.execute({}),
      serialize.sync(),
    );
    expect(gh.map(names)).toEqual(pg.map(names));
    expect(gh.map(errorCodes)).toEqual([['22012'], []]);
    expect(names(gh[1]!)).toEqual(['bindComplete', 'dataRow', 'commandComplete', 'readyForQuery']);
    expect(rowsOf(gh[1]!)).toEqual(rowsOf(pg[1]!));
    expect(rowsOf(gh[1]!)).toEqual([['1']]);
  });

  it('several Parses of the unnamed statement skipped after an error: the one before them is still there, as in PostgreSQL (seed 9024)', async () => {
    const { gh, pg } = await bothWays(
      3,
      serialize.parse({ text: 'SELECT 1 AS a' }),
      serialize.sync(),
      serialize.parse({ name: 'late', text: FAILS_LATE }),
      serialize.bind({ statement: 'late', portal: 'p1' }),
      serialize.execute({ portal: 'p1' }),
      serialize.parse({ text: 'SELECT 2 AS b' }), // skipped upstream, as is all below until Sync
      serialize.describe({ type: 'S', name: '' }),
      serialize.parse({ text: 'SELECT 3 AS c, 4 AS d' }),
      serialize.sync(),
      serialize.describe({ type: 'S', name: '' }),
      serialize.sync(),
    );
    expect(gh.map(names)).toEqual(pg.map(names));
    expect(gh.map(errorCodes)).toEqual([[], ['22012'], []]);
    const described = (g: Message[]): unknown => g.filter((m) => m.name === 'rowDescription').map((m) => (m as unknown as { fields: { name: string }[] }).fields.map((f) => f.name));
    expect(described(gh[2]!)).toEqual(described(pg[2]!));
    expect(described(gh[2]!)).toEqual([['a']]);
  });

  // Seed 9014: Gatehouse dropped the unnamed statement for the refused Query (PostgreSQL drops it at
  // every Query it runs); the server skipped the refusal Gatehouse sent in its place, so it keeps it.
  it.each([
    ['a simple Query Gatehouse refuses (a syntax error), skipped after an error, leaves the unnamed statement, as in PostgreSQL (seed 9014)', serialize.query('SELEC 1')],
    ['a Parse of the unnamed statement Gatehouse refuses (its failing Parse goes up), skipped after an error, leaves the unnamed statement, as in PostgreSQL', serialize.parse({ text: 'SELEC 2' })],
  ])('%s', async (_what, refused) => {
    const { gh, pg } = await bothWays(
      2,
      serialize.parse({ text: 'SELECT 1 AS a' }),
      serialize.parse({ name: 'late', text: FAILS_LATE }),
      serialize.bind({ statement: 'late', portal: 'p1' }),
      serialize.execute({ portal: 'p1' }),
      refused, // refused by Gatehouse, skipped upstream
      serialize.sync(),
      serialize.bind({}),
      serialize.execute({}),
      serialize.sync(),
    );
    expect(gh.map(names)).toEqual(pg.map(names));
    expect(gh.map(errorCodes)).toEqual([['22012'], []]);
    expect(rowsOf(gh[1]!)).toEqual([['1']]);
  });

  it('a Parse of the unnamed statement that fails upstream leaves no unnamed statement (not the one it replaced), as in PostgreSQL', async () => {
    const { gh, pg } = await bothWays(
      3,
      serialize.parse({ text: 'SELECT 1 AS a' }),
      serialize.sync(),
      serialize.parse({ text: 'SELECT 1::no_such_type_fuzz' }), // fails in analysis, after the unnamed statement was dropped
      serialize.sync(),
      serialize.bind({}),
      serialize.sync(),
    );
    expect(gh.map(names)).toEqual(pg.map(names));
    expect(gh.map(errorCodes)).toEqual(pg.map(errorCodes));
    expect(gh.map(errorCodes)).toEqual([[], ['42704'], ['26000']]);
  });
  it('Describe of the unnamed portal a failed COPY left in an aborted block: NoData, as from PostgreSQL, and the batch goes on (seed 9106)', async () => {
    // PostgreSQL keeps the portal of a simple-Query statement that failed while running until the
    // block ends, and describes it there: NoData for a COPY (no columns), 25P02 for a statement with
    // columns. Gatehouse answered 34000 (a portal it never bound) and so skipped the Close behind it.
    const { gh, pg } = await bothWays(
      4,
      serialize.query('BEGIN'),
      serialize.query('COPY public.pgbench_fuzz FROM STDIN'),
      serialize.copyData(Buffer.from('not a number\n')),
      serialize.copyDone(),
      serialize.describe({ type: 'P', name: '' }),
      serialize.close({ type: 'S', name: 'no_such_statement' } as never),
      serialize.sync(),
      serialize.query('ROLLBACK'),
    );
    expect(gh.map(names)).toEqual(pg.map(names));
    expect(gh.map(errorCodes)).toEqual(pg.map(errorCodes));
    expect(names(gh[2]!)).toEqual(['noData', 'closeComplete', 'readyForQuery']);
  });

  it('Execute of the unnamed portal a failed COPY left in an aborted block: 34000 through Gatehouse, and it never reaches PostgreSQL (which it crashed)', async () => {
    // Sent straight to PostgreSQL 15 this crashed the server process (the long fuzz run, seed 9100;
    // docs/data-path.md), so it is sent through Gatehouse only: refused as a portal Gatehouse never
    // bound, the block stays aborted, and the same session and PostgreSQL go on.
    const w = await WireClient.connect(t.port, token);
    try {
      w.send(
        serialize.query('BEGIN'),
        serialize.query('COPY public.pgbench_fuzz FROM STDIN'),
        serialize.copyData(Buffer.from('not a number\n')),
        serialize.copyDone(),
        serialize.execute({}),
        serialize.sync(),
        serialize.query('ROLLBACK'),
        serialize.query('SELECT 7 AS seven'),
      );
      const got = await w.untilReady(5);
      expect(got.map(errorCodes)).toEqual([[], ['22P02'], ['34000'], [], []]);
      expect(got[2]!.at(-1)).toMatchObject({ name: 'readyForQuery', status: 'E' });
      expect(rowsOf(got[4]!)).toEqual([['7']]);
    } finally {
      w.close();
    }
    const d = await directSession(t.upstreamUrl);
    try {
      d.send(serialize.query('SELECT 8 AS eight'));
      expect(rowsOf((await d.untilReady(1))[0]!)).toEqual([['8']]);
    } finally {
      d.close();
    }
  });

  it('Execute, in a block a Query just aborted, of a portal an earlier transaction bound (gone upstream): 34000, as from PostgreSQL (seed 9300)', async () => {
    // The portal ended with its transaction at the Sync, but Gatehouse still knew it, so the Execute,
    // held behind the Query in flight (pg/statement-order.ts), got the LOCK ahead of it
    // (enforce/lock-ahead.ts); that failed first with 25P02 in the aborted block.
    const { gh, pg } = await bothWays(
      4,
      serialize.parse({ name: 's2', text: 'INSERT INTO public.pgbench_fuzz VALUES (7) RETURNING v' }),
      serialize.bind({ statement: 's2', portal: '' }),
      serialize.sync(),
      serialize.query('BEGIN; SELECT nosuchcolumn FROM generate_series(1, 2) g'),
      serialize.execute({ portal: '', rows: 0 }),
      serialize.sync(),
      serialize.query('ROLLBACK'),
    );
    expect(gh.map(names)).toEqual(pg.map(names));
    expect(pg.map(errorCodes)).toEqual([[], ['42703'], ['34000'], []]);
    expect(gh.map(errorCodes)).toEqual(pg.map(errorCodes));
  });

  it('Bind, in a block a Query just aborted, of the unnamed statement the Query dropped: 26000, as from PostgreSQL (seed 9303)', async () => {
    // The same LOCK ahead of the Bind (held behind the Query) failed first with 25P02.
    const { gh, pg } = await bothWays(
      4,
      serialize.parse({ text: 'INSERT INTO public.pgbench_fuzz VALUES (7) RETURNING v' }),
      serialize.sync(),
      serialize.query('BEGIN; SELECT 1/0'),
      serialize.bind({}),
      serialize.sync(),
      serialize.query('ROLLBACK'),
    );
    expect(gh.map(names)).toEqual(pg.map(names));
    expect(pg.map(errorCodes)).toEqual([[], ['22012'], ['26000'], []]);
    expect(gh.map(errorCodes)).toEqual(pg.map(errorCodes));
  });

  it('Describe of the unnamed portal a failed SELECT left in an aborted block: 25P02, as from PostgreSQL', async () => {
    const { gh, pg } = await bothWays(
      4,
      serialize.query('BEGIN'),
      serialize.query('SELECT 1 / g AS q FROM generate_series(0, 1) g'),
      serialize.describe({ type: 'P', name: '' }),
      serialize.sync(),
      serialize.query('ROLLBACK'),
    );
    expect(gh.map(names)).toEqual(pg.map(names));
    expect(gh.map(errorCodes)).toEqual([[], ['22012'], ['25P02'], []]);
  });
});
