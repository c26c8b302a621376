import { describe, expect, it } from 'vitest';
import type { StatementOutcome } from '../audit/types.ts';
import type { DecidedStatement } from '../enforce/decision-point.ts';
import type { GatehouseError } from '../errors.ts';
import type { MaskRule } from '../policy/types.ts';
import {
  bindComplete,
  commandComplete,
  dataRow,
  decodeDataRow,
  decodeErrorFields,
  errorResponse,
  noData,
  parseComplete,
  readyForQuery,
  rowDescription,
} from '../wire/backend.ts';
import { BE } from '../wire/message-types.ts';
import { RelationCatalog } from '../enforce/relation-catalog.ts';
import { PendingQueue, type Pending, type ResultContext } from './pending.ts';
import { PortalTable } from './portal-table.ts';
import type { RelayHost } from './relay-host.ts';
import { FailedBlock } from './failed-block.ts';
import { UpstreamRelay } from './upstream-relay.ts';

const PATIENTS_OID = 16400;
const SSN = '900-12-3456';
const MASKS: MaskRule[] = [{ table: 'clinical.patients', column: 'ssn', strategy: 'redact', policy: 'test' }];
const ssnColumn = { name: 'ssn', tableOid: PATIENTS_OID, columnAttr: 5, typeOid: 25, typeSize: -1, typeMod: -1, format: 0 };
const intColumn = { name: 'n', tableOid: 0, columnAttr: 0, typeOid: 23, typeSize: 4, typeMod: -1, format: 0 };

const relations = new RelationCatalog(
  [
    {
      oid: PATIENTS_OID,
      schema: 'clinical',
      name: 'patients',
      qualified: 'clinical.patients',
      kind: 'table',
      persistence: 'permanent',
      columns: [
        { name: 'id', attnum: 1, type: 'integer', category: 'N', typeOid: 23 },
        { name: 'ssn', attnum: 5, type: 'text', category: 'S', typeOid: 25 },
      ],
      reads: [],
      ancestors: [],
    },
  ],
  { hash: true },
);
const catalog = { relations: { current: () => relations } };

/** What the relay needs of a Session, recording what it sends to the client. */
class FakeSession {
  readonly pending = new PendingQueue();
  readonly statements = new Map();
  readonly portals = new PortalTable('gatehouse_test_');
  readonly fence = { ready: (): void => undefined, completed: (): void => undefined };
  readonly out: Buffer[] = [];
  readonly outcomes: StatementOutcome[] = [];
  readonly skipping: Array<{ syncQueued: boolean; probeSkipped: boolean }> = [];
  readonly upstream = { pause: () => undefined, resume: () => undefined };
  readonly deps = { catalog };
  txStatus = 'I';
  readonly failedBlock = new FailedBlock();
  isClosed = false;
  ended: GatehouseError | null = null;
  emit(b: Buffer): void {
    this.out.push(b);
  }
  flushClient(): void {}
  flushSoon(): void {}
  emitFrame(f: { raw: Buffer }): void {
    this.out.push(f.raw);
  }
  upstreamAnswered(): void {}
  writeOutcome(_decision: unknown, o: StatementOutcome): void {
    this.outcomes.push(o);
  }
  searchPathProbed(): void {}
  copyInStarted(): void {}
  copyEnded(): void {}
  upstreamSkipping(syncQueued: boolean, probeSkipped: boolean): void {
    this.skipping.push({ syncQueued, probeSkipped });
  }
  endOnDesync(e: GatehouseError): void {
    this.ended = e;
    this.isClosed = true;
  }
  close(): void {
    this.isClosed = true;
  }
  /** The client-bound messages as [type letter, DataRow values as text when a row]. */
  sent(): Array<[string, string[]?]> {
    return this.out.map((b) => {
      const type = String.fromCharCode(b[0]!);
      return b[0] === BE.DataRow ? [type, decodeDataRow(b.subarray(5)).map((v) => v?.toString('utf8') ?? 'NULL')] : [type];
    });
  }
}

function setup(): { s: FakeSession; upstream: (...m: Buffer[]) => Promise<void> } {
  const s = new FakeSession();
  const relay = new UpstreamRelay(s as unknown as RelayHost);
  return {
    s,
    upstream: async (...m: Buffer[]) => {
      relay.onData(Buffer.concat(m));
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r)); // mask plans resolve asynchronously
    },
  };
}

const decided = (id: string): DecidedStatement => ({ text: '', parsed: null, input: null, decision: { id } } as unknown as DecidedStatement);
const context = (masks: MaskRule[], id = 'd1'): ResultContext => ({
  statements: [decided(id)],
  masks,
  detections: [],
  detected: {},
  index: 0,
  plan: null,
  columns: null,
  rows: 0,
});
const query = (masks: MaskRule[]): Pending => ({ kind: 'query', ctx: context(masks) });
const error = (code: string): Buffer => errorResponse({ severity: 'ERROR', sqlstate: code, message: `failed: "${SSN}"` });
const sqlstates = (s: FakeSession): string[] => s.out.filter((b) => b[0] === BE.ErrorResponse).map((b) => decodeErrorFields(b.subarray(5))['C'] ?? '');

describe('UpstreamRelay: attributing responses after an extended-protocol error', () => {
  it('a Query skipped by the server leaves no entry behind: the next masked Query is checked as masked (B8)', async () => {
    const { s, upstream } = setup();
    // Parse(fails) Bind Execute Query Sync, as the session queues them.
    s.pending.push({ kind: 'parse', statement: { name: '', upstreamName: '', sql: "SELECT 'x'::int", preparedSql: "SELECT 'x'::int", fields: null }, replaced: null });
    s.pending.push({ kind: 'bind', portal: null, previous: null });
    s.pending.push({ kind: 'execute', ctx: context([], 'e'), portal: null });
    s.pending.push(query([]));
    s.pending.push({ kind: 'sync' });
    await upstream(error('22P02'), readyForQuery('I'));
    expect(s.sent()).toEqual([['E'], ['Z']]);
    expect(s.pending.length).toBe(0);
    expect(s.skipping).toEqual([{ syncQueued: true, probeSkipped: false }]);
    expect(s.outcomes.map((o) => o.status)).toEqual(['aborted', 'aborted']); // the skipped Execute and Query

    s.out.length = 0;
    s.pending.push(query(MASKS));
    // A raw masked column reaching the client (the rewrite failed somehow) is withheld: defence in depth.
    await upstream(rowDescription([ssnColumn]), dataRow([Buffer.from(SSN)]), commandComplete('SELECT 1'), readyForQuery('I'));
    expect(s.sent()).toEqual([['T'], ['D', ['NULL']], ['C'], ['Z']]);
    expect(s.ended).toBeNull();
  });

  it("an error before the client's Sync arrived tells the session to skip until Sync, and that a probe was skipped", async () => {
    const { s, upstream } = setup();
    s.pending.push({ kind: 'bind', portal: null, previous: null });
    s.pending.push(query([]));
    s.pending.push({ kind: 'search-path', value: null, failed: false });
    await upstream(error('26000'));
    expect(s.pending.length).toBe(0);
    expect(s.skipping).toEqual([{ syncQueued: false, probeSkipped: true }]);
  });

  it('a portal Close and Bind skipped by the server are undone: the portal keeps its statement (R2)', async () => {
    const { s, upstream } = setup();
    const masked = { name: 'm', upstreamName: 'gatehouse_test_1', sql: 'SELECT ssn FROM clinical.patients', preparedSql: 'SELECT ssn FROM clinical.patients', fields: null };
    const other = { name: 'o', upstreamName: 'gatehouse_test_2', sql: 'SELECT 1', preparedSql: 'SELECT 1', fields: null };
    s.portals.bind('p2', masked, []);
    s.portals.bind('', masked, []);
    // Execute(fails) Close P p2 Bind '' Sync, as the session queues them.
    s.pending.push({ kind: 'execute', ctx: context([], 'e'), portal: null });
    s.pending.push({ kind: 'close', portal: s.portals.close('p2') });
    s.pending.push({ kind: 'bind', ...s.portals.bind('', other, []) });
    s.pending.push({ kind: 'sync' });
    expect(s.portals.resolve('p2').kind).toBe('unknown');
    await upstream(error('22P02'), readyForQuery('T'));
    const p2 = s.portals.resolve('p2');
    const unnamed = s.portals.resolve('');
    expect(p2.kind === 'portal' && p2.portal.statement).toBe(masked);
    expect(unnamed.kind === 'portal' && unnamed.portal.statement).toBe(masked);
  });

  it('the unnamed statement a skipped Parse replaced, or a skipped refusal dropped, is put back; a failed Parse leaves none (as PostgreSQL)', async () => {
    const unnamed = (sql: string) => ({ name: '', upstreamName: '', sql, preparedSql: sql, fields: null });
    const [a, b, c] = [unnamed('SELECT 1 AS a'), unnamed('SELECT 2 AS b'), unnamed('SELECT 3 AS c')];
    const named = { name: 's', upstreamName: 'gatehouse_test_1', sql: 'SELECT 4', preparedSql: 'SELECT 4', fields: null };

    // Execute(fails) Parse '' b, refused Query, Parse '' c, Parse s, Sync: the server skips all four.
    const { s, upstream } = setup();
    s.statements.set('', c).set('s', named);
    s.pending.push({ kind: 'execute', ctx: context([], 'e'), portal: null });
    s.pending.push({ kind: 'parse', statement: b, replaced: a });
    s.pending.push({ kind: 'refused-query', error: Buffer.alloc(0), shown: false, droppedUnnamed: b });
    s.pending.push({ kind: 'parse', statement: c, replaced: null });
    s.pending.push({ kind: 'parse', statement: named, replaced: null });
    s.pending.push({ kind: 'sync' });
    await upstream(error('22012'), readyForQuery('I'));
    expect([...s.statements.entries()]).toEqual([['', a]]);

    // A refused Parse of '' whose failing Parse is skipped: the one Gatehouse dropped is back.
    const skipped = setup();
    skipped.s.pending.push({ kind: 'execute', ctx: context([], 'e'), portal: null });
    skipped.s.pending.push({ kind: 'swap-error', error: Buffer.alloc(0), droppedUnnamed: a });
    skipped.s.pending.push({ kind: 'sync' });
    await skipped.upstream(error('22012'), readyForQuery('I'));
    expect(skipped.s.statements.get('')).toBe(a);

    // The Parse that fails, and Gatehouse's failing Parse in place of a refused one: PostgreSQL
    // dropped the unnamed statement before parsing, so none is put back.
    for (const failed of [
      { kind: 'parse', statement: b, replaced: a },
      { kind: 'swap-error', error: Buffer.alloc(0), droppedUnnamed: a },
    ] as Pending[]) {
      const f = setup();
      f.s.pending.push(failed);
      // Then Parse '' c (skipped), which replaced b, or none after Gatehouse dropped a.
      f.s.pending.push({ kind: 'parse', statement: c, replaced: failed.kind === 'parse' ? b : null });
      f.s.pending.push({ kind: 'sync' });
      f.s.statements.set('', c);
      await f.upstream(error('42601'), readyForQuery('I'));
      expect(f.s.statements.has('')).toBe(false);
    }
  });

  it('an error at Sync (deferred constraint at commit) is followed by ReadyForQuery, not a skip', async () => {
    const { s, upstream } = setup();
    s.pending.push({ kind: 'sync' });
    s.pending.push(query([]));
    await upstream(error('23505'), readyForQuery('I'));
    expect(s.sent()).toEqual([['E'], ['Z']]);
    expect(s.pending.peek()?.kind).toBe('query');
    expect(s.skipping).toEqual([]);
  });

  it('a masked statement skipped in a failed batch, then run, gets its own error in order', async () => {
    const { s, upstream } = setup();
    const masked = (code: string): Buffer => errorResponse({ severity: 'ERROR', sqlstate: code, message: 'invalid input syntax for type integer: "***"' });
    s.pending.push({ kind: 'swap-error', error: errorResponse({ severity: 'ERROR', sqlstate: '42501', message: 'denied' }), droppedUnnamed: null });
    s.pending.push(query(MASKS));
    s.pending.push({ kind: 'sync' });
    s.pending.push(query(MASKS));
    await upstream(masked('26000'), readyForQuery('I'), masked('22P02'), readyForQuery('I'));
    expect(sqlstates(s)).toEqual(['42501', '22P02']);
    expect(s.outcomes.map((o) => o.status)).toEqual(['aborted', 'error']);
  });

  it("a refused Query's upstream error is shown as Gatehouse's own, then its ReadyForQuery", async () => {
    const { s, upstream } = setup();
    const own = errorResponse({ severity: 'ERROR', sqlstate: '42501', message: 'denied' });
    s.pending.push({ kind: 'refused-query', error: own, shown: false, droppedUnnamed: null });
    await upstream(error('42601'), readyForQuery('E'));
    expect(s.out).toEqual([own, readyForQuery('E')]);
    expect(s.txStatus).toBe('E');
  });
});

describe('UpstreamRelay: a response the head entry cannot produce ends the session', () => {
  const cases: Array<{ name: string; pending: () => Pending[]; frames: Buffer[] }> = [
    { name: 'a DataRow while waiting for a Sync', pending: () => [{ kind: 'sync' }], frames: [dataRow([Buffer.from(SSN)])] },
    { name: 'a DataRow with nothing pending', pending: () => [], frames: [dataRow([Buffer.from(SSN)])] },
    { name: 'a DataRow of a masked Query before its RowDescription', pending: () => [query(MASKS)], frames: [dataRow([Buffer.from(SSN)])] },
    { name: 'a DataRow of an unmasked Query before its RowDescription', pending: () => [query([])], frames: [dataRow([Buffer.from(SSN)])] },
    {
      name: 'a DataRow with more columns than the masked result it is attributed to',
      pending: () => [query(MASKS)],
      frames: [rowDescription([intColumn]), dataRow([Buffer.from('1')]), dataRow([Buffer.from('1'), Buffer.from(SSN)])],
    },
    { name: 'a RowDescription for an Execute', pending: () => [{ kind: 'execute', ctx: context([]), portal: null }], frames: [rowDescription([ssnColumn])] },
    { name: 'a CommandComplete while waiting for a Bind', pending: () => [{ kind: 'bind', portal: null, previous: null }], frames: [commandComplete('SELECT 1')] },
    { name: 'a ReadyForQuery while waiting for an Execute', pending: () => [{ kind: 'execute', ctx: context([]), portal: null }], frames: [readyForQuery('I')] },
    { name: 'a ParseComplete while waiting for a refused Query', pending: () => [{ kind: 'refused-query', error: Buffer.alloc(0), shown: false, droppedUnnamed: null }], frames: [parseComplete()] },
    { name: 'a RowDescription for a Describe of the unnamed portal Gatehouse did not bind', pending: () => [{ kind: 'describe', hidden: false, target: null, untracked: true }, { kind: 'sync' }], frames: [rowDescription([ssnColumn])] },
    { name: "a BindComplete while waiting for Gatehouse's failing Bind", pending: () => [{ kind: 'swap-error', error: Buffer.alloc(0), droppedUnnamed: null }], frames: [bindComplete()] },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const { s, upstream } = setup();
      for (const p of c.pending()) s.pending.push(p);
      await upstream(...c.frames, readyForQuery('I'));
      expect(s.ended?.sqlstate).toBe('08P01');
      expect(s.ended?.severity).toBe('FATAL');
      expect(Buffer.concat(s.out).includes(SSN)).toBe(false);
      expect(s.out.some((b) => b[0] === BE.ReadyForQuery)).toBe(false);
    });
  }

  it('control: NoData or an error for a Describe of the unnamed portal Gatehouse did not bind is relayed', async () => {
    const { s, upstream } = setup();
    s.pending.push({ kind: 'describe', hidden: false, target: null, untracked: true });
    s.pending.push({ kind: 'sync' });
    s.pending.push({ kind: 'describe', hidden: false, target: null, untracked: true });
    s.pending.push({ kind: 'sync' });
    await upstream(noData(), readyForQuery('E'), error('25P02'), readyForQuery('E'));
    expect(s.sent().map((m) => m[0])).toEqual(['n', 'Z', 'E', 'Z']);
    expect(s.ended).toBeNull();
  });

  it('control: the same rows in their place are relayed', async () => {
    const { s, upstream } = setup();
    s.pending.push(query([]));
    await upstream(rowDescription([intColumn]), dataRow([Buffer.from('7')]), commandComplete('SELECT 1'), readyForQuery('I'));
    expect(s.sent()).toEqual([['T'], ['D', ['7']], ['C'], ['Z']]);
    expect(s.ended).toBeNull();
  });
});
