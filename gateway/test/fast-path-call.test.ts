// A fast-path FunctionCall ('F': libpq's PQfn, which lo_* large-object calls use) is refused (0A000)
// and answered as PostgreSQL answers a FunctionCall that fails: ErrorResponse, then ReadyForQuery at
// once (no Sync), a transaction block left failed, the unnamed statement kept, skipped after an error
// in an extended batch. The same bytes go to PostgreSQL directly (a FunctionCall of OID 0, which names
// no function, fails there) to compare what a client sees. Every attempt is recorded (deny, policy
// gatehouse.fast_path) with a refused outcome. psql's \lo_import gets the error and goes on.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../src/audit/types.ts';
import { encodeFunctionCall } from '../src/wire/frontend.ts';
import { startTestGateway, type TestGateway } from './support/harness.ts';
import { sendBothWays, type BothAnswers } from './support/differential.ts';
import { psqlVia } from './support/run-tool.ts';
import { errorCodes, names, rowsOf, serialize, WireClient, type Message } from './support/wire-client.ts';

const shape = (groups: Message[][]): string[][] => groups.map(names);
const statuses = (groups: Message[][]): string[] => groups.map((g) => g.at(-1)?.status ?? '');
const FAST_PATH = '<fast-path function call: oid $1>'; // as recorded with literals redacted

/** The fast-path records and their outcome statuses, once every one has its outcome. */
async function fastPathRecords(t: TestGateway, count: number): Promise<Array<{ policies: string[]; decision: string; outcome: string; sqlstate?: string }>> {
  const pick = (rs: AuditRecord[]) =>
    rs.flatMap((r) => {
      if (r.type !== 'statement' || r.statement !== FAST_PATH) return [];
      const o = rs.find((x): x is Extract<AuditRecord, { type: 'outcome' }> => x.type === 'outcome' && x.decision_id === r.decision_id);
      return o === undefined ? [] : [{ policies: r.policies, decision: r.decision, outcome: o.outcome.status, ...('sqlstate' in o.outcome ? { sqlstate: o.outcome.sqlstate } : {}) }];
    });
  return pick(await t.auditUntil((rs) => pick(rs).length >= count));
}

describe('fast-path FunctionCall: refused, recorded, answered as PostgreSQL answers a failed call', () => {
  let t: TestGateway;
  let token: string;
  let seen = 0;
  const bothWays = async (count: number, ...messages: Buffer[]): Promise<BothAnswers> => {
    const w = await WireClient.connect(t.port, token);
    try {
      return await sendBothWays(w, t.upstreamUrl, count, ...messages);
    } finally {
      w.close();
    }
  };
  /** The fast-path records written since the last call. */
  const newRecords = async (count: number) => {
    const all = await fastPathRecords(t, seen + count);
    const fresh = all.slice(seen);
    seen = all.length;
    return fresh;
  };
  const refused = { policies: ['gatehouse.fast_path'], decision: 'deny', outcome: 'refused', sqlstate: '0A000' };

  beforeAll(async () => {
    t = await startTestGateway();
    token = await t.token('agent-fast-path', ['agents']);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('outside a transaction: ErrorResponse and ReadyForQuery at once, without a Sync', async () => {
    const { gh, pg } = await bothWays(1, encodeFunctionCall(0));
    expect(shape(gh)).toEqual(shape(pg));
    expect(shape(gh)).toEqual([['error', 'readyForQuery']]);
    expect(errorCodes(gh[0]!)).toEqual(['0A000']);
    expect(errorCodes(pg[0]!)).toEqual(['42883']);
    expect(statuses(gh)).toEqual(['I']);
    expect(await newRecords(1)).toEqual([refused]);
  });

  it('in a transaction block: the block fails until ROLLBACK, as it does in PostgreSQL', async () => {
    const { gh, pg } = await bothWays(4, serialize.query('BEGIN'), encodeFunctionCall(0), serialize.query('SELECT 1'), serialize.query('ROLLBACK'));
    expect(shape(gh)).toEqual(shape(pg));
    expect(statuses(gh)).toEqual(statuses(pg));
    expect(statuses(gh)).toEqual(['T', 'E', 'E', 'I']);
    expect(gh.map(errorCodes)).toEqual([[], ['0A000'], ['25P02'], []]);
    expect(await newRecords(1)).toEqual([refused]);
  });

  it('pipelined in an unsynced extended batch: in order, and the unnamed statement stays', async () => {
    const batch = [
      serialize.parse({ text: 'SELECT 2 AS two' }),
      serialize.bind({}),
      serialize.execute({}),
      encodeFunctionCall(0),
      serialize.bind({}),
      serialize.execute({}),
      serialize.sync(),
    ];
    const { gh, pg } = await bothWays(2, ...batch);
    expect(shape(gh)).toEqual(shape(pg));
    expect(statuses(gh)).toEqual(statuses(pg));
    expect(gh.map(errorCodes)).toEqual([['0A000'], []]);
    expect(gh.map(rowsOf)).toEqual([[['2']], [['2']]]);
    expect(await newRecords(1)).toEqual([refused]);
  });

  it('after an error in an extended batch: skipped until Sync, and still recorded as refused', async () => {
    // A syntax error Gatehouse refuses itself (it knows at once), and a constant the server fails at Parse.
    for (const [text, code] of [['SELEC 1', '42601'], ["SELECT 'x'::int", '22P02']] as const) {
      const { gh, pg } = await bothWays(1, serialize.parse({ text }), serialize.bind({}), serialize.execute({}), encodeFunctionCall(0), serialize.sync());
      expect(shape(gh)).toEqual(shape(pg));
      expect(shape(gh)).toEqual([['error', 'readyForQuery']]);
      expect(errorCodes(gh[0]!)).toEqual([code]);
      expect(await newRecords(1)).toEqual([refused]);
    }
  });

  it("psql's \\lo_import (libpq's lo_* over the fast path) gets the refusal, and the session goes on", async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'gatehouse-fast-path-')), 'note.txt');
    writeFileSync(file, 'a large object\n');
    const r = await psqlVia(t.port, token, ['-v', 'ON_ERROR_STOP=0', '-At', '-c', `\\lo_import ${file}`, '-c', 'SELECT 42 AS after_lo_import'], { killAfterMs: 30_000 });
    expect(r.stderr).toContain('Gatehouse does not allow fast-path function calls');
    expect(r.stdout.toString('utf8').trim().split('\n').at(-1)).toBe('42');
    const records = await newRecords(1);
    expect(records).toEqual([refused]);
  });
});
