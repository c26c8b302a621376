// Runs generated rounds (generate.ts) on two sessions, one straight to PostgreSQL and one through
// Gatehouse, and compares what each sends back. Differences Gatehouse documents are normalised away
// (docs/data-path.md): BackendKeyData, ParameterStatus, notices, and the text of errors (only
// SQLSTATEs are compared: Gatehouse words its own refusals, e.g. of a syntax error, differently).
// In the masked run, rows of the patients and visits statements (tagged 'P' and 'N') must carry no
// raw identifier, and every other row must be byte-identical: a row attributed to the wrong
// statement would be masked, scanned or refused where PostgreSQL's is not.

import { serialize } from 'pg-protocol';
import { WireClient, type Message } from '../wire-client.ts';
import { RoundGenerator, type Round } from './generate.ts';

export interface FuzzOptions {
  seed: number;
  /** Stop after this many frontend messages (sentinels not counted). */
  messages: number;
  /** Opens a session through Gatehouse. */
  gateway: () => Promise<WireClient>;
  /** Opens a session straight to PostgreSQL. */
  direct: () => Promise<WireClient>;
  /** Masked run: raw values that must never reach the client through Gatehouse. */
  secrets?: readonly string[];
  /** The share of rounds with a CancelRequest (default 0.01; see RoundGenerator). */
  cancelShare?: number;
  /** How long a round may take before it counts as a stall. */
  roundTimeoutMs?: number;
  onProgress?: (stats: FuzzStats) => void;
}

export interface Divergence {
  seed: number;
  round: number;
  trace: string[];
  direct: string[];
  gateway: string[];
  why: string;
  /** The rounds before it on the same sessions (latest last, at most 40): what set up the state that diverged. */
  before: Array<{ trace: string[]; direct: string[] }>;
}

export interface FuzzStats {
  rounds: number;
  /** Rounds with a CancelRequest of a running statement. */
  cancels: number;
  messages: number;
  divergence: Divergence | null;
}

/**
 * A named Parse of a name in use: Gatehouse answers 42P05 where PostgreSQL first reports these
 * (documented in docs/data-path.md); the only difference the comparison lets through.
 */
const PARSE_ERRORS_BEFORE_DUPLICATE = new Set(['E 25P02', 'E 42703']);

/**
 * Execute of the unnamed portal in an aborted block, where PostgreSQL still holds the
 * portal of a simple-Query statement that failed while running: Gatehouse never bound it and
 * answers 34000 where PostgreSQL answers 25P02 (documented in docs/data-path.md).
 */
function documentedDifference(direct: string | undefined, gateway: string): boolean {
  if (gateway === 'E 42P05') return direct !== undefined && PARSE_ERRORS_BEFORE_DUPLICATE.has(direct);
  return gateway === 'E 34000' && direct === 'E 25P02';
}

const SKIPPED = new Set(['parameterStatus', 'backendKeyData', 'notice', 'notification']);

/** One backend message as compared (null: not compared). */
function normalise(m: Message, masked: boolean): string | null {
  if (SKIPPED.has(m.name)) return null;
  const any = m as unknown as Record<string, unknown>;
  switch (m.name) {
    case 'dataRow': {
      const fields = (m.fields ?? []) as (string | null)[];
      const tag = fields[fields.length - 1];
      if (masked && (tag === 'P' || tag === 'N')) return `D ${fields[0]} <${tag} row: compared for identifiers only> ${fields.length}`;
      return `D ${JSON.stringify(fields)}`;
    }
    case 'rowDescription':
      return `T ${((any['fields'] as { name: string; dataTypeID: number; format: string }[]) ?? []).map((f) => `${f.name}:${f.dataTypeID}:${f.format}`).join(',')}`;
    case 'error':
      return `E ${m.code}${m.severity === 'FATAL' ? ' FATAL' : ''}`;
    case 'commandComplete':
      return `C ${m.text}`;
    case 'readyForQuery':
      return `Z ${m.status}`;
    case 'copyData':
      return `d ${(any['chunk'] as Buffer).toString('utf8')}`;
    case 'parameterDescription':
      return `t ${JSON.stringify(any['dataTypeIDs'])}`;
    default:
      return m.name;
  }
}

/** Reads until the sentinel's ReadyForQuery (or the connection closes, or time runs out). */
async function readRound(c: WireClient, sentinel: string, timeoutMs: number): Promise<{ messages: Message[]; ended: string | null }> {
  const messages: Message[] = [];
  let sawSentinel = false;
  const deadline = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref());
  for (;;) {
    const m = await Promise.race([c.next().catch(() => null), deadline]);
    if (m === 'timeout') return { messages, ended: 'no answer in time (stall)' };
    if (m === null) return { messages, ended: 'connection closed' };
    if (m.name === 'dataRow' && (m.fields as unknown[])?.[0] === sentinel) {
      sawSentinel = true;
      continue;
    }
    if (sawSentinel && m.name === 'readyForQuery') return { messages, ended: null };
    if (sawSentinel) continue; // the sentinel's RowDescription/CommandComplete
    messages.push(m);
  }
}

function stripSentinelHead(messages: string[]): string[] {
  // The sentinel's RowDescription comes just before its DataRow: drop the trailing one.
  return messages.length > 0 && messages[messages.length - 1] === 'T sentinel:25:text' ? messages.slice(0, -1) : messages;
}

/** Reads until one ReadyForQuery (or the connection closes, or time runs out). */
async function readUntilReady(c: WireClient, timeoutMs: number, onWait: () => Promise<void>): Promise<{ messages: Message[]; ended: string | null }> {
  const messages: Message[] = [];
  const deadline = Date.now() + timeoutMs;
  let next = c.next().catch(() => null);
  for (;;) {
    const m = await Promise.race([next, new Promise<'tick'>((resolve) => setTimeout(() => resolve('tick'), 100).unref())]);
    if (m === 'tick') {
      if (Date.now() > deadline) return { messages, ended: 'no answer in time (stall)' };
      await onWait();
      continue;
    }
    if (m === null) return { messages, ended: 'connection closed' };
    messages.push(m);
    if (m.name === 'readyForQuery') return { messages, ended: null };
    next = c.next().catch(() => null);
  }
}

/** A key no server gave (the real one with its secret flipped). */
const WRONG_KEY = { processID: 1, secretKey: 0x5eed };

/**
 * Sends one side's round as its cancel plan says: for a running statement, the head, a
 * CancelRequest every 100 ms until the head's ReadyForQuery, a pause (so that no cancel still on
 * its way can hit what follows), then the rest; for an idle or wrong-key cancel, the cancel first
 * (once its connection has closed) and the round right after it.
 */
async function sendRound(c: WireClient, round: Round, tail: Buffer, timeoutMs: number): Promise<{ head: Message[]; ended: string | null }> {
  const plan = round.cancel;
  if (plan === undefined) {
    c.send(...round.messages, tail);
    return { head: [], ended: null };
  }
  switch (plan.kind) {
    case 'idle':
    case 'wrong-key':
      // No pause: the cancel connection closes once the server has acted on the cancel, so a cancel
      // that wrongly reached a backend would hit the round's first statement (red-team round 9, R9-3).
      await c.cancel(plan.kind === 'idle' ? undefined : WRONG_KEY);
      c.send(...round.messages, tail);
      return { head: [], ended: null };
    case 'running': {
      c.send(...round.messages.slice(0, plan.head));
      const head = await readUntilReady(c, timeoutMs, () => c.cancel());
      await new Promise((r) => setTimeout(r, 500));
      c.send(...round.messages.slice(plan.head), tail);
      return { head: head.messages, ended: head.ended };
    }
    default: {
      const never: never = plan;
      throw new Error(`unknown cancel plan ${JSON.stringify(never)}`);
    }
  }
}

/** Attempts at opening a session before a run gives up (and reports it), with a doubling pause between. */
const CONNECT_ATTEMPTS = 5;
const FIRST_RETRY_MS = 200;

/**
 * Opens one side's session, again after a pause when it fails (a server may still be ending the
 * sessions of a round that was cancelled or ended in FATAL); the error of the last attempt when
 * none succeeded.
 */
export async function openSession(open: () => Promise<WireClient>, attempts = CONNECT_ATTEMPTS): Promise<WireClient | { error: string }> {
  let error = '';
  for (let attempt = 0; attempt < attempts; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, FIRST_RETRY_MS * 2 ** (attempt - 1)));
    try {
      return await open();
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
    }
  }
  return { error: `could not open a session in ${attempts} attempts: ${error}` };
}

/** Both sides' sessions, or why one could not be opened (a divergence to report, not a crash). */
async function openBoth(o: FuzzOptions): Promise<{ gw: WireClient; pg: WireClient } | { why: string }> {
  const pg = await openSession(o.direct);
  if (!(pg instanceof WireClient)) return { why: `PostgreSQL: ${pg.error}` };
  const gw = await openSession(o.gateway);
  if (!(gw instanceof WireClient)) {
    pg.close();
    return { why: `Gatehouse: ${gw.error}` };
  }
  return { gw, pg };
}

/** Runs rounds until `messages` frontend messages have been sent or the streams diverge. */
export async function runDifferential(o: FuzzOptions): Promise<FuzzStats> {
  const gen = new RoundGenerator(o.seed, o.cancelShare);
  const masked = (o.secrets?.length ?? 0) > 0;
  const stats: FuzzStats = { rounds: 0, cancels: 0, messages: 0, divergence: null };
  const before: Divergence['before'] = [];
  const stop = (why: string, trace: string[] = []): FuzzStats => {
    stats.divergence = { seed: o.seed, round: stats.rounds, trace, direct: [], gateway: [], why, before: [...before] };
    return stats;
  };
  const opened = await openBoth(o);
  if ('why' in opened) return stop(opened.why);
  let { gw, pg } = opened;
  let round: Round | null = null;
  try {
    while (stats.messages < o.messages) {
      round = gen.next();
      const sentinel = `fuzz-${o.seed}-${stats.rounds}`;
      // ROLLBACK first: a round may leave a transaction block open or aborted, where the sentinel would fail.
      const tail = Buffer.concat([serialize.query('ROLLBACK'), serialize.query(`SELECT '${sentinel}'::text AS sentinel`)]);
      const timeoutMs = o.roundTimeoutMs ?? 20_000;
      const pgHead = await sendRound(pg, round, tail, timeoutMs);
      const want = pgHead.ended !== null ? { messages: pgHead.head, ended: pgHead.ended } : await readRound(pg, sentinel, timeoutMs);
      if (pgHead.ended === null) want.messages.unshift(...pgHead.head);
      const gwHead = await sendRound(gw, round, tail, timeoutMs);
      const got = gwHead.ended !== null ? { messages: gwHead.head, ended: gwHead.ended } : await readRound(gw, sentinel, timeoutMs);
      if (gwHead.ended === null) got.messages.unshift(...gwHead.head);
      stats.rounds++;
      if (round.cancel?.kind === 'running') stats.cancels++;
      stats.messages += round.messages.length;
      const norm = (ms: Message[]) => stripSentinelHead(ms.map((m) => normalise(m, masked)).filter((x): x is string => x !== null));
      const [d, g] = [norm(want.messages), norm(got.messages)];
      let why: string | null = null;
      if (want.ended !== null) why = `PostgreSQL: ${want.ended}`;
      else if (got.ended !== null) why = `Gatehouse: ${got.ended}`;
      else if (JSON.stringify(d) !== JSON.stringify(g.map((x, i) => (documentedDifference(d[i], x) ? d[i] : x)))) {
        why = 'response streams differ';
      }
      else if (masked) {
        const text = JSON.stringify(got.messages);
        const leaked = o.secrets!.find((s) => text.includes(s));
        if (leaked !== undefined) why = `a raw identifier reached the client (${leaked.slice(0, 3)}...)`;
      }
      if (why !== null) {
        stats.divergence = { seed: o.seed, round: stats.rounds - 1, trace: round.trace, direct: d, gateway: g, why, before };
        return stats;
      }
      before.push({ trace: round.trace, direct: d });
      if (before.length > 40) before.shift();
      if (stats.rounds % 500 === 0) o.onProgress?.(stats);
      // A round that ended a session (e.g. a FATAL on both sides) starts the next one on new sessions.
      if (want.messages.some((m) => m.severity === 'FATAL')) {
        gw.close();
        pg.close();
        before.length = 0;
        const again = await openBoth(o);
        if ('why' in again) return stop(`after a round that ended its sessions: ${again.why}`);
        ({ gw, pg } = again);
      }
    }
    return stats;
  } catch (e) {
    // Whatever the harness itself trips over (a lost connection mid-cancel, ...) is reported with the round, never thrown.
    return stop(`the run failed: ${e instanceof Error ? e.message : String(e)}`, round?.trace ?? []);
  } finally {
    gw.close();
    pg.close();
  }
}
