// Every statement attempted has an audit record, a protocol Execute of a SQL cursor too. PostgreSQL keeps
// protocol portals and SQL cursors in one namespace, so a client may Execute (with a row limit) the portal
// a SQL DECLARE opened: that reads the cursor's rows exactly like FETCH, and Gatehouse decides and audits
// it as that FETCH (pg/cursor-execute.ts): a statement record naming the cursor, one outcome record per
// Execute with its rows (PortalSuspended, CommandComplete), and the refusal of a name that is no cursor
// (34000) or reserved (42939) recorded too. The session recording shows it like a FETCH. Real client
// (raw wire), real PostgreSQL, the gateway's real audit file.

import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRecording } from '../src/audit/replay.ts';
import type { AuditRecord } from '../src/audit/types.ts';
import { cursorFetchText } from '../src/pg/cursor-execute.ts';
import { recorded, startTestGateway, type TestGateway } from './support/harness.ts';
import { waitFor } from './support/wait-for.ts';
import { errorCodes, names, rowsOf, serialize, WireClient } from './support/wire-client.ts';

type StatementRecord = Extract<AuditRecord, { type: 'statement' }>;
type OutcomeRecord = Extract<AuditRecord, { type: 'outcome' }>;

const CURSOR_QUERY = 'SELECT id FROM clinical.visits WHERE id <= 3 ORDER BY id';

describe('a protocol Execute of a SQL cursor is audited like FETCH', () => {
  let t: TestGateway;
  let recordings: string;

  beforeAll(async () => {
    recordings = mkdtempSync(join(tmpdir(), 'gatehouse-it-cursor-recordings-'));
    t = await startTestGateway({ audit: { recordings_dir: recordings } });
  });
  afterAll(async () => {
    await t?.close();
  });

  /** The session's statement records in order, each with its outcome records, once `statements` of them have their outcome. */
  async function trail(sessionId: string, statements: number): Promise<Array<{ statement: StatementRecord; outcomes: OutcomeRecord[] }>> {
    const of = (records: AuditRecord[]) => {
      const stated = records.filter((r): r is StatementRecord => r.type === 'statement' && r.session_id === sessionId);
      return stated.map((statement) => ({ statement, outcomes: records.filter((r): r is OutcomeRecord => r.type === 'outcome' && r.decision_id === statement.decision_id) }));
    };
    const complete = (rs: AuditRecord[]): boolean => {
      const x = of(rs);
      return x.length >= statements && x.every((s) => s.outcomes.length > 0);
    };
    return of(await t.auditUntil(complete));
  }

  /** The session id of the session whose statement record holds `text` (as recorded). */
  function sessionOf(text: string): string {
    const r = t.audit().find((x) => x.type === 'statement' && x.statement === recorded(text));
    if (r?.type !== 'statement') throw new Error(`no statement record of ${text}`);
    return r.session_id;
  }

  it('DECLARE WITH HOLD, then Execute "c" with a row limit twice (PortalSuspended, CommandComplete): one FETCH record and one outcome each; an undeclared name is refused (34000) and recorded', async () => {
    const token = await t.token('cursor-execute-1', ['agents']);
    const w = await WireClient.connect(t.port, token, { application_name: 'cursor-execute-1' });
    const declare = `DECLARE c CURSOR WITH HOLD FOR ${CURSOR_QUERY}`;
    w.send(serialize.query(declare));
    const [declared] = await w.untilReady(1);
    w.send(serialize.execute({ portal: 'c', rows: 2 }), serialize.sync());
    const [first] = await w.untilReady(1);
    w.send(serialize.execute({ portal: 'c', rows: 2 }), serialize.sync());
    const [second] = await w.untilReady(1);
    w.send(serialize.execute({ portal: 'nope', rows: 5 }), serialize.sync());
    const [unknown] = await w.untilReady(1);
    w.send(serialize.execute({ portal: 'gatehouse_x', rows: 0 }), serialize.sync());
    const [reserved] = await w.untilReady(1);
    w.close();

    expect(errorCodes(declared!)).toEqual([]);
    expect(rowsOf(first!)).toEqual([['1'], ['2']]);
    expect(names(first!)).toContain('portalSuspended');
    expect(rowsOf(second!)).toEqual([['3']]);
    expect(names(second!)).toContain('commandComplete');
    expect(errorCodes(unknown!)).toEqual(['34000']);
    expect(errorCodes(reserved!)).toEqual(['42939']);

    const sessionId = sessionOf(declare);
    const records = await trail(sessionId, 5);
    expect(records.map((r) => r.statement.statement)).toEqual([
      recorded(declare),
      recorded(cursorFetchText('c', 2)),
      recorded(cursorFetchText('c', 2)),
      recorded(cursorFetchText('nope', 5)),
      recorded(cursorFetchText('gatehouse_x', 0)),
    ]);
    // The cursor each names, and its row limit (a literal: $1 under redact_literals, like SQL FETCH's).
    expect(records[1]!.statement.statement).toBe('FETCH FORWARD $1 FROM "c"');
    expect(records[1]!.statement.input?.statement).toMatchObject({ kind: 'cursor', command: 'FetchStmt', protocol: 'extended' });
    expect(records.slice(1, 3).map((r) => r.statement.decision)).toEqual(['allow', 'allow']);
    // One outcome per Execute, with the rows it returned.
    expect(records.map((r) => r.outcomes.map((o) => o.outcome))).toEqual([
      [{ status: 'ok', command_tag: 'DECLARE CURSOR', rows: null }],
      [{ status: 'ok', command_tag: 'SUSPENDED', rows: 2 }],
      [{ status: 'ok', command_tag: 'SELECT 1', rows: 1 }],
      [{ status: 'refused', sqlstate: '34000' }],
      [{ status: 'refused', sqlstate: '42939' }],
    ]);

    // The session recording shows each Execute as its FETCH, its rows and how it ended.
    // Without the rows, and without the end, which comes once the gateway has seen the client go.
    const shown = await waitFor('the recording of the last refusal', () => {
      const events = parseRecording(readFileSync(join(recordings, `${sessionId}.ndjson`), 'utf8')); // a line being written is skipped
      const seen = events.filter((e) => e.type !== 'row' && e.type !== 'end').map((e) => (e.type === 'statement' ? e.statement : e.type === 'complete' ? `${e.tag} ${e.rows}` : e.type === 'error' ? e.sqlstate : e.type));
      return seen.includes('42939') ? seen : undefined;
    });
    expect(shown).toEqual(['session', recorded(declare), 'DECLARE CURSOR 0', 'FETCH FORWARD $1 FROM "c"', 'SUSPENDED 2', 'FETCH FORWARD $1 FROM "c"', 'SELECT 1 1', 'FETCH FORWARD $1 FROM "nope"', '34000', 'FETCH ALL FROM "gatehouse_x"', '42939']);
  });

  it('pgjdbc-like: DECLARE and a Describe and row-limited Execute of its portal pipelined in one extended batch, read to the end across batches', async () => {
    const token = await t.token('cursor-execute-2', ['agents']);
    const w = await WireClient.connect(t.port, token, { application_name: 'cursor-execute-2' });
    const declare = `DECLARE "Pager" CURSOR WITH HOLD FOR ${CURSOR_QUERY}`;
    w.send(
      serialize.parse({ text: declare }),
      serialize.bind({}),
      serialize.execute({}),
      serialize.describe({ type: 'P', name: 'Pager' }),
      serialize.execute({ portal: 'Pager', rows: 2 }),
      serialize.sync(),
    );
    const [page] = await w.untilReady(1);
    w.send(serialize.execute({ portal: 'Pager', rows: 2 }), serialize.execute({ portal: 'Pager', rows: 2 }), serialize.sync());
    const [rest] = await w.untilReady(1);
    w.send(serialize.query('CLOSE "Pager"'));
    await w.untilReady(1);
    w.close();

    expect(errorCodes(page!)).toEqual([]);
    expect(names(page!).filter((n) => n !== 'dataRow')).toEqual(['parseComplete', 'bindComplete', 'commandComplete', 'rowDescription', 'portalSuspended', 'readyForQuery']);
    expect(rowsOf(page!)).toEqual([['1'], ['2']]);
    expect(rowsOf(rest!)).toEqual([['3']]);

    const records = await trail(sessionOf(declare), 5);
    expect(records.map((r) => r.statement.statement)).toEqual([
      recorded(declare),
      'FETCH FORWARD $1 FROM "Pager"',
      'FETCH FORWARD $1 FROM "Pager"',
      'FETCH FORWARD $1 FROM "Pager"',
      recorded('CLOSE "Pager"'),
    ]);
    expect(records.slice(1, 4).map((r) => r.outcomes.map((o) => o.outcome))).toEqual([
      [{ status: 'ok', command_tag: 'SUSPENDED', rows: 2 }],
      [{ status: 'ok', command_tag: 'SELECT 1', rows: 1 }],
      [{ status: 'ok', command_tag: 'SELECT 0', rows: 0 }],
    ]);
  });

  it('an Execute of the unnamed portal Gatehouse did not bind (no SQL name: never a cursor) is refused (34000) and recorded', async () => {
    const token = await t.token('cursor-execute-3', ['agents']);
    const w = await WireClient.connect(t.port, token, { application_name: 'cursor-execute-3' });
    w.send(serialize.query('SELECT 1 AS first'));
    await w.untilReady(1);
    w.send(serialize.execute({ portal: '', rows: 1 }), serialize.sync());
    const [unnamed] = await w.untilReady(1);
    w.close();
    expect(errorCodes(unnamed!)).toEqual(['34000']);
    const records = await trail(sessionOf('SELECT 1 AS first'), 2);
    expect(records[1]!.statement).toMatchObject({ decision: 'deny', fingerprint: '' }); // recorded unparsed: FETCH ... FROM "" has no SQL form
    expect(records[1]!.outcomes.map((o) => o.outcome)).toEqual([{ status: 'refused', sqlstate: '34000' }]);
  });
});
