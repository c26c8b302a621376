// The PostgreSQL audit sink: records of one gateway instance hash-chained (audit/chain.ts) into its
// own chain in a table several instances share, inserted in batches (group commit: one INSERT, one
// transaction per batch, while the next batch gathers), a statement forwarded only once the
// transaction holding its record committed; signed checkpoints as rows; and, when the database
// cannot be written, refusal until it can, then a `sink` recovered record, by itself.

import pg from 'pg';
import { GatehouseError } from '../errors.ts';
import { chainPrepared, EMPTY_CHAIN, lineHash, prepareRecord, type ChainHead, type PreparedRecord } from './chain.ts';
import { checkpointPayload, checkpointRecord, type CheckpointPayload, type CheckpointSigner } from './checkpoint.ts';
import type { AuditHealth, AuditHealthReporter } from './health.ts';
import { auditTable, ensureAuditTable, insertAuditRows, INSTANCE_LOCK, readChainState, type AuditRow, type AuditTable } from './postgres-table.ts';
import { AUDIT_RECORD_VERSION, type AuditRecord, type AuditSink } from './types.ts';

export interface PostgresSinkOptions {
  /** libpq URL of the database holding the table. */
  url: string;
  /** This gateway's chain in the table. */
  instance: string;
  /** schema.table; default gatehouse.audit_log. */
  table?: string;
  signer?: CheckpointSigner | null;
  checkpointIntervalMs?: number;
  /** Milliseconds between attempts to write again after a failure; default 1 s. */
  retryMs?: number;
  /** A batch INSERT that has not committed after this long counts as a failure; default 10 s. */
  queryTimeoutMs?: number;
  /** Most rows per INSERT; default 1000. */
  maxBatch?: number;
  redact?: (record: AuditRecord) => AuditRecord;
  onProblem?: (level: 'error' | 'info', message: string) => void;
}

export interface PostgresAuditSink extends AuditSink, AuditHealthReporter {
  readonly instance: string;
  /** Writes a checkpoint now if records were added since the last one (tests, shutdown). */
  checkpoint(reason: CheckpointPayload['reason']): Promise<void>;
}

interface Outage {
  error: Error;
  since: string;
  refused: number;
  outcomesLost: number;
}

/** A record accepted by write()/writeSoon(), serialized, with its place in the order of acceptance. */
interface Queued {
  n: number;
  type: AuditRecord['type'];
  time: string;
  decisionId: string | null;
  prepared: PreparedRecord;
}

/** Records kept (not refused) while the database cannot be written: outcomes, session events. */
const MAX_KEPT = 10_000;
/** How long a record no statement waits for (an outcome) may wait for the next batch. */
const DEFERRED_FLUSH_MS = 20;

/**
 * Connects, creates the table when missing, takes this instance's writer lock and continues its
 * chain from the table. Throws (AUDIT_WRITE_FAILED, CONFIG_INVALID) when any of that fails: a
 * gateway does not start without its audit log.
 */
export async function openPostgresAuditSink(options: PostgresSinkOptions): Promise<PostgresAuditSink> {
  const table = auditTable(options.table);
  const instance = options.instance;
  const signer = options.signer ?? null;
  const intervalMs = options.checkpointIntervalMs ?? 60_000;
  const retryMs = options.retryMs ?? 1000;
  const maxBatch = options.maxBatch ?? 1000;
  const redact = options.redact ?? ((r: AuditRecord) => r);
  const problem = options.onProblem ?? (() => undefined);
  const where = `the audit table ${table.schema}.${table.name} (instance ${instance})`;

  let client: pg.Client | null;
  let state: Awaited<ReturnType<typeof readChainState>>;
  try {
    client = await connect(options, table, instance);
    state = await readChainState(client, table, instance);
  } catch (e) {
    if (e instanceof GatehouseError) throw e;
    throw new GatehouseError('AUDIT_WRITE_FAILED', `cannot open ${where}: ${describe(e)}`, { cause: e });
  }
  /** The committed chain head (the last row of this instance in the table). */
  let head: ChainHead = state.head ?? EMPTY_CHAIN;
  let lastCheckpoint: ChainHead | null = state.checkpoint;

  let accepted = 0; // records accepted so far (write and writeSoon)
  let committed = 0; // of those, how many are in committed rows
  let queue: Queued[] = [];
  let inFlight: { batch: Queued[]; from: ChainHead; to: ChainHead } | null = null;
  /** A batch whose COMMIT was not confirmed: it may or may not be in the table (settled at recovery). */
  let unsure: { batch: Queued[]; from: ChainHead; to: ChainHead } | null = null;
  const waiters: { upTo: number; done: (error: Error | null) => void }[] = [];
  let outage: Outage | null = null;
  let retry: NodeJS.Timeout | null = null;
  let timer: NodeJS.Timeout | null = null;
  let scheduled = false;
  let closed = false;
  let checkpointing: Promise<void> = Promise.resolve();
  const watch = (c: pg.Client): void => {
    // An idle connection's error (terminated backend, server restart) must not take the process down.
    c.on('error', (e) => {
      if (c === client) fail(e);
    });
  };
  watch(client);

  const settle = (upTo: number, error: Error | null): void => {
    while (waiters.length > 0 && waiters[0]!.upTo <= upTo) waiters.shift()!.done(error);
  };

  const chain = (batch: Queued[], from: ChainHead): { rows: AuditRow[]; to: ChainHead } => {
    let at = from;
    const rows: AuditRow[] = [];
    for (const q of batch) {
      const { line, next } = chainPrepared(q.prepared, at);
      rows.push({ seq: next.seq, type: q.type, time: q.time, decisionId: q.decisionId, line });
      at = next;
    }
    return { rows, to: at };
  };

  /** Sends the next batch unless one is in flight: group commit, one INSERT per batch. */
  const flush = (): void => {
    scheduled = false;
    if (inFlight !== null || outage !== null || client === null || queue.length === 0) return;
    if (timer) clearTimeout(timer);
    timer = null;
    const batch = queue.slice(0, maxBatch);
    queue = queue.slice(batch.length);
    const from = head;
    const { rows, to } = chain(batch, from);
    const sending = { batch, from, to };
    inFlight = sending;
    const c = client;
    insertAuditRows(c, table, instance, rows).then(
      () => {
        if (inFlight !== sending) return; // failed meanwhile (connection error): settled at recovery
        inFlight = null;
        head = to;
        committed = batch.at(-1)!.n;
        for (let i = 0; i < batch.length; i++) if (batch[i]!.type === 'checkpoint') lastCheckpoint = { seq: rows[i]!.seq, head: lineHash(rows[i]!.line) };
        settle(committed, null);
        if (queue.length > 0 && (waiters.length > 0 || queue.length >= maxBatch)) flush();
        else if (queue.length > 0) timer ??= setTimeout(flush, DEFERRED_FLUSH_MS).unref();
      },
      (e: unknown) => {
        if (inFlight === sending) fail(e);
      },
    );
  };

  const schedule = (): void => {
    if (scheduled || inFlight !== null) return;
    scheduled = true;
    setImmediate(flush); // this turn's records from every session share the batch
  };

  const fail = (e: unknown): void => {
    const error = e instanceof Error ? e : new Error(String(e));
    if (inFlight !== null) {
      // The COMMIT's fate is unknown: recovery reads the table to tell.
      unsure = inFlight;
      queue = [...inFlight.batch, ...queue];
      inFlight = null;
    }
    const c = client;
    client = null;
    c?.end().catch(() => undefined);
    // Statements waiting for their records are not sent: their sessions end (AUDIT_FLUSH_FAILED).
    settle(Number.MAX_SAFE_INTEGER, error);
    answeredThrough = lastWritten;
    if (outage !== null || closed) return;
    outage = { error, since: new Date().toISOString(), refused: 0, outcomesLost: 0 };
    problem('error', `${where} cannot be written (${describe(error)}): statements are refused until it can; retrying every ${retryMs} ms`);
    retry = setInterval(() => void probe(), retryMs);
    retry.unref();
  };

  /** The last waited-for record whose waiters were answered with a failure. */
  let answeredThrough = 0;
  let probing = false;
  /** While failed: reconnects, settles the unsure batch, writes what was kept and a recovered record. */
  const probe = async (): Promise<void> => {
    if (outage === null || closed || probing) return;
    probing = true;
    const o = outage;
    let c: pg.Client | null = null;
    try {
      c = await connect(options, table, instance);
      const now = await readChainState(c, table, instance);
      const tableHead = now.head ?? EMPTY_CHAIN;
      if (unsure !== null && tableHead.seq === unsure.to.seq && tableHead.head === unsure.to.head) {
        // The batch did commit: its records are written; only its waiters were told otherwise.
        const done = new Set(unsure.batch);
        queue = queue.filter((q) => !done.has(q));
      } else if (tableHead.seq !== head.seq || tableHead.head !== head.head) {
        problem('error', `${where} ends at seq ${tableHead.seq}, not where this gateway last wrote (seq ${head.seq}): continuing from the table; \`gatehouse audit verify\` reports any difference`);
      }
      unsure = null;
      head = tableHead;
      lastCheckpoint = now.checkpoint;
      const recovered: AuditRecord = {
        v: AUDIT_RECORD_VERSION,
        type: 'sink',
        time: new Date().toISOString(),
        event: 'recovered',
        outage: { since: o.since, reason: describe(o.error), refused: o.refused, outcomes_lost: o.outcomesLost },
      };
      const all = [...queue, queued(recovered)];
      const { rows, to } = chain(all, head);
      await insertAuditRows(c, table, instance, rows);
      head = to;
      committed = all.at(-1)!.n;
      queue = [];
    } catch {
      await c?.end().catch(() => undefined);
      probing = false;
      return; // still failing; tried again at the next interval
    }
    probing = false;
    if (closed) {
      await c.end().catch(() => undefined);
      return;
    }
    client = c;
    watch(c);
    outage = null;
    if (retry) clearInterval(retry);
    retry = null;
    settle(committed, null);
    problem('info', `${where} is writable again (unavailable since ${o.since}, ${o.refused} statements refused meanwhile)`);
  };

  const refusal = (o: Outage): GatehouseError =>
    new GatehouseError('AUDIT_WRITE_FAILED', `Gatehouse cannot write its audit log to PostgreSQL (${describe(o.error)}), so the statement was not run`, {
      cause: o.error,
      hint: 'Tell the Gatehouse operator (audit database unreachable or the audit role lacks INSERT); statements are accepted again as soon as it can be written.',
    });

  const queued = (record: AuditRecord): Queued => {
    const r = redact(record);
    return { n: ++accepted, type: r.type, time: r.time, decisionId: 'decision_id' in r ? r.decision_id : null, prepared: prepareRecord(r) };
  };
  /** The last record accepted by write(): what whenDurable() waits for (writeSoon's need not be out). */
  let lastWritten = 0;
  /** Queues a record; `waited`: whenDurable() waits for it (write(), checkpoints), not for writeSoon()'s. */
  const accept = (record: AuditRecord, waited = true): void => {
    queue.push(queued(record));
    if (waited) lastWritten = accepted;
  };

  const durable = (): Promise<Error | null> => new Promise((resolve) => sink.whenDurable(resolve));
  /** Every record accepted so far committed, writeSoon()'s too (null), or why not. */
  const allCommitted = (): Promise<Error | null> =>
    new Promise((resolve) => {
      if (committed >= accepted) return resolve(null);
      if (outage !== null) return resolve(outage.error);
      waiters.push({ upTo: accepted, done: resolve });
      schedule();
    });

  /**
   * Signs the committed head once every record accepted before it is in the table: a checkpoint queued
   * behind records it does not name (writeSoon()'s sessions and outcomes, or records that came in
   * while it was being signed) would leave them after the last checkpoint, unprotected. Records that
   * keep coming in while it signs get a few more tries, then wait for the next checkpoint.
   */
  const writeCheckpoint = async (reason: CheckpointPayload['reason']): Promise<void> => {
    if (signer === null) return;
    for (let attempt = 0; attempt < 5; attempt++) {
      if (outage !== null || (await allCommitted())) return;
      const payload = checkpointPayload(head, lastCheckpoint, intervalMs, reason);
      if (payload === null) return;
      const signedAt = accepted;
      const jws = await signer.sign(payload);
      if (outage !== null) return;
      if (accepted !== signedAt) continue; // records came in while signing: the head signed is no longer the last
      accept(checkpointRecord(payload, jws));
      await durable(); // lastCheckpoint is set when its row commits
      return;
    }
  };

  const checkpoint = (reason: CheckpointPayload['reason']): Promise<void> => {
    checkpointing = checkpointing.then(() => writeCheckpoint(reason)).catch((e: unknown) => problem('error', `audit checkpoint failed: ${(e as Error).message}`));
    return checkpointing;
  };
  const interval = setInterval(() => void checkpoint('interval'), intervalMs);
  interval.unref();

  const sink: PostgresAuditSink = {
    instance,
    write(record: AuditRecord): void {
      if (closed) throw new GatehouseError('AUDIT_WRITE_FAILED', 'the audit log is closed (Gatehouse is stopping), so the statement was not run');
      if (outage !== null) {
        if (record.type === 'statement') outage.refused++;
        throw refusal(outage);
      }
      accept(record);
    },
    writeSoon(record: AuditRecord): void {
      if (closed) return;
      if (outage !== null && queue.length >= MAX_KEPT) {
        outage.outcomesLost++;
        return;
      }
      accept(record, false);
      if (outage === null && inFlight === null) timer ??= setTimeout(flush, DEFERRED_FLUSH_MS).unref();
    },
    whenDurable(done: (error: Error | null) => void): void {
      if (committed >= lastWritten) return done(null);
      // Every waiter at the failure was told (its session ends), and write() refuses during an
      // outage: a caller now has no record of its own pending (sessions ask in the turn they wrote).
      if (outage !== null) return done(lastWritten <= answeredThrough ? null : outage.error);
      waiters.push({ upTo: lastWritten, done });
      schedule();
    },
    health(): AuditHealth {
      if (closed) return { writable: false, reason: 'audit sink is closed' };
      return outage === null ? { writable: true } : { writable: false, reason: `cannot write ${where}: ${describe(outage.error)}` };
    },
    checkpoint,
    async close(): Promise<void> {
      if (closed) return;
      clearInterval(interval);
      await checkpoint('shutdown');
      // Sessions' last records (writeSoon) that came in while the checkpoint was written get one of their own.
      if (committed < accepted) await checkpoint('shutdown');
      if (outage === null) {
        const error = await durable();
        if (error) problem('error', `${where}: records could not be written at shutdown: ${describe(error)}`);
      }
      closed = true;
      if (timer) clearTimeout(timer);
      if (retry) clearInterval(retry);
      settle(Number.MAX_SAFE_INTEGER, new Error('audit sink closed'));
      const c = client;
      client = null;
      await c?.end().catch(() => undefined);
    },
  };

  accept({ v: AUDIT_RECORD_VERSION, type: 'sink', time: new Date().toISOString(), event: 'opened', outage: null });
  const opened = await durable();
  if (opened !== null) {
    await sink.close();
    throw new GatehouseError('AUDIT_WRITE_FAILED', `cannot write to ${where}: ${describe(opened)}`, {
      cause: opened,
      hint: 'The audit role needs SELECT and INSERT on the table (docs/audit.md); create it with gatehouse audit init-db.',
    });
  }
  return sink;
}

/** A connection holding this instance's writer lock, with the table in place. */
async function connect(options: PostgresSinkOptions, table: AuditTable, instance: string): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: options.url,
    application_name: 'gatehouse:audit',
    connectionTimeoutMillis: 5000,
    query_timeout: options.queryTimeoutMs ?? 10_000,
  });
  client.on('error', () => undefined); // until the sink watches it
  try {
    await client.connect();
    await ensureAuditTable(client, table);
    const lock = await client.query<{ ok: boolean }>('SELECT pg_catalog.pg_try_advisory_lock($1, pg_catalog.hashtext($2)) AS ok', [INSTANCE_LOCK, instance]);
    if (lock.rows[0]?.ok !== true) {
      throw new GatehouseError('CONFIG_INVALID', `another gateway is writing audit instance ${instance} in ${table.schema}.${table.name}`, {
        hint: 'Give each gateway its own audit.instance (or none: one is generated per configuration directory).',
      });
    }
    return client;
  } catch (e) {
    await client.end().catch(() => undefined);
    throw e;
  }
}

/** The error's SQLSTATE or errno and its message (PostgreSQL's messages quote no row values here). */
function describe(e: unknown): string {
  const err = e as { code?: unknown; message?: unknown };
  const message = typeof err.message === 'string' ? err.message : String(e);
  return typeof err.code === 'string' ? `${err.code}: ${message}` : message;
}
