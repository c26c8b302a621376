// What the differential protocol fuzzer (protocol-fuzz.test.ts) found, kept as regression tests:
// each sends the round that diverged, through Gatehouse and straight to PostgreSQL, and compares.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './support/harness.ts';
import { directSession, prepareDatabase } from './support/protocol-fuzz/session.ts';
import { errorCodes, names, serialize, WireClient, type Message } from './support/wire-client.ts';

describe('protocol fuzzer findings', () => {
  let t: TestGateway;
  let token: string;
  beforeAll(async () => {
    t = await startTestGateway();
    await prepareDatabase(t.upstreamUrl);
    token = await t.token('fuzz-findings', ['breakglass', 'bench']);
  });
  afterAll(async () => t?.close());

  async function bothWays(count: number, ...messages: Buffer[]): Promise<{ gh: Message[][]; pg: Message[][] }> {
    const w = await WireClient.connect(t.port, token);
    const d = await directSession(t.upstreamUrl);
    try {
      w.send(...messages);
      d.send(...messages);
      const [gh, pg] = await Promise.all([w.untilReady(count), d.untilReady(count)]);
      return { gh, pg };
    } finally {
      w.close();
      d.close();
    }
  }

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
});
