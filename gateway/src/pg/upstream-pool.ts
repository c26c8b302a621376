// Session pooling of authenticated upstream connections per database (Gatehouse has one upstream
// role): a client session takes one at login and gives it back at disconnect, reset so that
// nothing of its session state reaches the next client. Full: new clients wait in line (FIFO) up
// to acquire_timeout_ms, then FATAL 53300. Only the waiting login waits; other sessions never do.
// A connection handed back idle outside a transaction owes its reset, which is written together
// with the next checkout (one round trip instead of two), or runs on its own after RESET_DEFER_MS.

import type { Socket } from 'node:net';
import type { UpstreamPoolConfig } from '../config/types.ts';
import { GatehouseError, isGatehouseError } from '../errors.ts';
import type { Departure, UpstreamHandback, UpstreamLease, UpstreamRequest, UpstreamSource } from './upstream-lease.ts';
import { checkoutSession } from './upstream/checkout.ts';
import { connectUpstream, type UpstreamConnection } from './upstream/connect.ts';
import { resetSession } from './upstream/reset.ts';
import { unsafeReportedSettings, unsafeSessionError } from '../sql/session-invariants.ts';

/** Bytes an idle connection may receive unread (asynchronous messages) before it is closed. */
const MAX_IDLE_BYTES = 64 * 1024;

/**
 * How long a connection handed back idle (outside a transaction) may wait for the next login to
 * take it with its reset owed, before it is reset on its own: what the previous client left
 * (session advisory locks, LISTEN, temporary tables) outlives it by at most this much, as it would
 * outlive a direct connection while its backend exits.
 */
export const RESET_DEFER_MS = 10;

export interface UpstreamPoolOptions {
  url: string;
  /** The upstream role the URL logs in as (checked after every reset). */
  role: string;
  connectTimeoutMs: number;
  pool: UpstreamPoolConfig;
  /** Operator log (connections closed because a reset failed, ...). */
  log(message: string): void;
  /** Opens one connection (tests may wrap it); default connectUpstream. */
  connect?: typeof connectUpstream;
}

/** One upstream backend owned by the pool, whoever holds it now. */
interface Backend {
  conn: UpstreamConnection;
  /**
   * The role the connection logged in as (session_authorization at startup), which every reset must
   * return to. Kept apart from `parameters`, which the client's session updates (SET SESSION AUTHORIZATION).
   */
  loginRole: string;
  parameters: Map<string, string>;
  /** Bytes received while idle or after the last exchange. */
  unread: Buffer;
  /** CancelRequests forwarded to it and not yet delivered. */
  cancels: Set<Promise<unknown>>;
  idleTimer: NodeJS.Timeout | null;
  /** The last client's session is not reset yet: the next checkout resets it first (checkoutSession). */
  resetOwed: boolean;
  /** Resets it on its own when no login took it within RESET_DEFER_MS. */
  resetTimer: NodeJS.Timeout | null;
  onIdleData: ((chunk: Buffer) => void) | null;
  onIdleClose: (() => void) | null;
  closed: boolean;
}

interface Waiter {
  /** False when the wait was already over (timed out, abandoned): the caller keeps the backend. */
  resolve(b: Backend): boolean;
  reject(e: Error): void;
}

/** The connections of one database. */
class DatabasePool {
  /** Open or opening, idle, leased or being reset. */
  open = 0;
  readonly idle: Backend[] = [];
  readonly waiters: Waiter[] = [];
  constructor(readonly database: string | null) {}
}

export class UpstreamPool implements UpstreamSource {
  readonly reuses = true;
  private readonly pools = new Map<string, DatabasePool>();
  private sockets = 0;
  private closing = false;
  private readonly connect: typeof connectUpstream;

  constructor(private readonly opts: UpstreamPoolOptions) {
    this.connect = opts.connect ?? connectUpstream;
  }

  connections(): number {
    return this.sockets;
  }

  /** Counts per database, for tests and metrics: open (all states), idle, waiting logins. */
  stats(database: string | null): { open: number; idle: number; waiting: number } {
    const p = this.pools.get(database ?? '');
    return { open: p?.open ?? 0, idle: p?.idle.length ?? 0, waiting: p?.waiters.length ?? 0 };
  }

  async acquire(request: UpstreamRequest, abandoned: Departure): Promise<UpstreamLease> {
    const pool = this.poolFor(request.database);
    const deadline = Date.now() + this.opts.pool.acquireTimeoutMs;
    const settings: [string, string][] = [['application_name', request.applicationName], ...Object.entries(request.params)];
    for (;;) {
      const backend = await this.take(pool, deadline, abandoned);
      let outcome;
      try {
        const owed = backend.resetOwed ? { txStatus: 'I' as const, role: backend.loginRole } : null;
        outcome = await checkoutSession(backend.conn.socket, this.takeUnread(backend), settings, this.opts.connectTimeoutMs, owed);
      } catch (e) {
        // Closed while idle (pg_terminate_backend, a restart) or not idle after all: never handed out.
        this.discard(pool, backend, `checkout failed: ${(e as Error).message}`);
        if (this.closing) throw this.unavailable('Gatehouse is shutting down');
        continue;
      }
      backend.resetOwed = false;
      for (const [k, v] of outcome.parameters) backend.parameters.set(k, v);
      if (outcome.kind === 'refused') {
        backend.unread = outcome.leftover;
        void this.giveBack(pool, backend, 'I');
        const f = outcome.fields;
        throw new GatehouseError('STARTUP_PARAMETER_INVALID', `the database refused a startup parameter: ${f['M'] ?? 'invalid value'}`, {
          ...(f['D'] !== undefined ? { detail: f['D'] } : {}),
          hint: f['H'] ?? 'Connect with a valid value for that parameter, or without it.',
        });
      }
      backend.unread = outcome.leftover;
      const unsafe = unsafeReportedSettings(backend.parameters);
      if (unsafe !== null) {
        this.discard(pool, backend, `unsafe parser setting after checkout: ${unsafe.setting}`);
        throw unsafeSessionError(unsafe, 'upstream-startup');
      }
      if (abandoned.aborted) {
        void this.giveBack(pool, backend, 'I');
        throw this.unavailable('the client went away while waiting');
      }
      return this.lease(pool, backend, outcome.searchPath);
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const pool of this.pools.values()) {
      for (const w of pool.waiters.splice(0)) w.reject(this.unavailable('Gatehouse is shutting down'));
      for (const b of pool.idle.splice(0)) this.discard(pool, b, null);
    }
  }

  // ---- taking a backend: idle, new, or in line ----

  private poolFor(database: string | null): DatabasePool {
    const key = database ?? '';
    let p = this.pools.get(key);
    if (!p) {
      p = new DatabasePool(database);
      this.pools.set(key, p);
    }
    return p;
  }

  private take(pool: DatabasePool, deadline: number, abandoned: Departure): Promise<Backend> {
    if (this.closing) return Promise.reject(this.unavailable('Gatehouse is shutting down'));
    const idle = pool.idle.pop(); // most recently used first: the rest age out (idle_timeout_s)
    if (idle !== undefined) {
      this.leaveIdle(idle);
      return Promise.resolve(idle);
    }
    if (pool.open < this.opts.pool.maxConnections) return this.openBackend(pool);
    return new Promise<Backend>((resolve, reject) => {
      const wait = Math.max(0, deadline - Date.now());
      let over = false;
      const settle = (): void => {
        over = true;
        clearTimeout(timer);
        abandoned.removeEventListener('abort', onAbort);
        const i = pool.waiters.indexOf(waiter);
        if (i >= 0) pool.waiters.splice(i, 1);
      };
      const waiter: Waiter = {
        resolve: (b) => {
          if (over) return false;
          settle();
          resolve(b);
          return true;
        },
        reject: (e) => {
          if (over) return;
          settle();
          reject(e);
        },
      };
      const timer = setTimeout(() => waiter.reject(this.exhausted(pool)), wait);
      const onAbort = (): void => waiter.reject(this.unavailable('the client went away while waiting'));
      abandoned.addEventListener('abort', onAbort, { once: true });
      pool.waiters.push(waiter);
    });
  }

  private async openBackend(pool: DatabasePool): Promise<Backend> {
    pool.open++;
    let conn: UpstreamConnection;
    try {
      conn = await this.connect({
        url: this.opts.url,
        ...(pool.database !== null ? { database: pool.database } : {}),
        applicationName: 'gatehouse',
        connectTimeoutMs: this.opts.connectTimeoutMs,
      });
    } catch (e) {
      pool.open--;
      this.serveWaiters(pool);
      throw e;
    }
    this.sockets++;
    conn.socket.once('close', () => this.sockets--);
    conn.socket.on('error', () => undefined); // between owners; each owner watches close
    return { conn, loginRole: conn.parameters.get('session_authorization') ?? this.opts.role, parameters: new Map(conn.parameters), unread: conn.initialBuffer, cancels: new Set(), idleTimer: null, resetOwed: false, resetTimer: null, onIdleData: null, onIdleClose: null, closed: false };
  }

  /** A connection came free or a slot opened: the first client in line gets it. */
  private serveWaiters(pool: DatabasePool): void {
    while (pool.waiters.length > 0) {
      const idle = pool.idle.pop();
      if (idle !== undefined) {
        this.leaveIdle(idle);
        pool.waiters[0]!.resolve(idle);
        continue;
      }
      if (pool.open >= this.opts.pool.maxConnections) return;
      const waiter = pool.waiters.shift()!;
      this.openBackend(pool).then(
        (b) => {
          // Opened for a login that stopped waiting meanwhile: the next one in line gets it.
          if (waiter.resolve(b)) return;
          if (this.closing) return this.discard(pool, b, null);
          this.enterIdle(pool, b);
          this.serveWaiters(pool);
        },
        (e: unknown) => waiter.reject(e instanceof Error ? e : new Error(String(e))),
      );
    }
  }

  // ---- lending and taking back ----

  private lease(pool: DatabasePool, backend: Backend, searchPathProbe: string | null): UpstreamLease {
    let released = false;
    const initialBuffer = this.takeUnread(backend);
    return {
      socket: backend.conn.socket,
      parameters: backend.parameters,
      processId: backend.conn.processId,
      secretKey: backend.conn.secretKey,
      initialBuffer,
      searchPathProbe,
      reported: (name, value) => void backend.parameters.set(name, value),
      cancelling: (sent) => {
        const settled = sent.then(
          () => undefined,
          () => undefined,
        );
        backend.cancels.add(settled);
        void settled.then(() => backend.cancels.delete(settled));
      },
      release: (back: UpstreamHandback) => {
        if (released) return;
        released = true;
        switch (back.kind) {
          case 'spent':
            this.discard(pool, backend, null);
            return;
          case 'idle':
            backend.unread = back.leftover;
            // Outside a transaction and with no cancel on its way, the reset can wait for the next
            // checkout; an open transaction is rolled back at once (it holds locks and snapshots).
            if (back.txStatus === 'I' && backend.cancels.size === 0 && !this.closing && !backend.conn.socket.destroyed) {
              this.deferReset(pool, backend);
              return;
            }
            void this.giveBack(pool, backend, back.txStatus);
            return;
          default: {
            const never: never = back;
            throw new Error(`unknown handback ${JSON.stringify(never)}`);
          }
        }
      },
    };
  }

  /**
   * Waits for cancels forwarded to this backend (a late one must not reach the next client's
   * query: PostgreSQL drops a cancel that arrives while the backend is idle), resets the session
   * and makes the connection available; a connection whose reset fails is closed.
   */
  private async giveBack(pool: DatabasePool, backend: Backend, txStatus: 'I' | 'T' | 'E'): Promise<void> {
    try {
      if (backend.cancels.size > 0) await Promise.all([...backend.cancels]);
      if (this.closing || backend.conn.socket.destroyed) throw new Error('closed');
      const r = await resetSession(backend.conn.socket, this.takeUnread(backend), txStatus, backend.loginRole, this.opts.connectTimeoutMs);
      for (const [k, v] of r.parameters) backend.parameters.set(k, v);
      backend.unread = r.leftover;
      backend.resetOwed = false;
    } catch (e) {
      this.discard(pool, backend, this.closing ? null : `reset failed, connection closed: ${(e as Error).message}`);
      return;
    }
    this.enterIdle(pool, backend);
    this.serveWaiters(pool);
  }

  /** Idle with its reset owed: the next checkout resets it, or the timer does (then it is idle again). */
  private deferReset(pool: DatabasePool, backend: Backend): void {
    backend.resetOwed = true;
    this.enterIdle(pool, backend);
    backend.resetTimer = setTimeout(() => {
      const i = pool.idle.indexOf(backend);
      if (i < 0) return;
      pool.idle.splice(i, 1);
      this.leaveIdle(backend);
      void this.giveBack(pool, backend, 'I');
    }, RESET_DEFER_MS);
    backend.resetTimer.unref();
    this.serveWaiters(pool);
  }

  private enterIdle(pool: DatabasePool, backend: Backend): void {
    const socket: Socket = backend.conn.socket;
    // Read while idle, so that a close (pg_terminate_backend, a restart) is noticed at once.
    backend.onIdleData = (chunk: Buffer) => {
      backend.unread = backend.unread.length === 0 ? chunk : Buffer.concat([backend.unread, chunk]);
      if (backend.unread.length > MAX_IDLE_BYTES) this.dropIdle(pool, backend, 'too much unread data while idle');
    };
    backend.onIdleClose = () => this.dropIdle(pool, backend, null);
    socket.on('data', backend.onIdleData);
    socket.once('close', backend.onIdleClose);
    socket.resume();
    const idleMs = this.opts.pool.idleTimeoutSeconds * 1000;
    if (idleMs > 0) {
      backend.idleTimer = setTimeout(() => this.dropIdle(pool, backend, null), idleMs);
      backend.idleTimer.unref();
    }
    pool.idle.push(backend);
  }

  private leaveIdle(backend: Backend): void {
    const socket = backend.conn.socket;
    socket.pause();
    if (backend.onIdleData) socket.off('data', backend.onIdleData);
    if (backend.onIdleClose) socket.off('close', backend.onIdleClose);
    backend.onIdleData = null;
    backend.onIdleClose = null;
    if (backend.idleTimer) clearTimeout(backend.idleTimer);
    backend.idleTimer = null;
    if (backend.resetTimer) clearTimeout(backend.resetTimer);
    backend.resetTimer = null;
  }

  private dropIdle(pool: DatabasePool, backend: Backend, why: string | null): void {
    const i = pool.idle.indexOf(backend);
    if (i < 0) return;
    pool.idle.splice(i, 1);
    this.leaveIdle(backend);
    this.discard(pool, backend, why);
  }

  private discard(pool: DatabasePool, backend: Backend, why: string | null): void {
    if (backend.closed) return;
    backend.closed = true;
    if (why !== null) this.opts.log(`upstream pool: ${why}`);
    backend.conn.socket.destroy();
    pool.open--;
    if (!this.closing) this.serveWaiters(pool);
  }

  private takeUnread(backend: Backend): Buffer {
    const b = backend.unread;
    backend.unread = Buffer.alloc(0);
    return b;
  }

  // ---- errors ----

  private exhausted(pool: DatabasePool): GatehouseError {
    const { maxConnections, acquireTimeoutMs } = this.opts.pool;
    return new GatehouseError(
      'UPSTREAM_POOL_EXHAUSTED',
      `Gatehouse's upstream connection pool${pool.database === null ? '' : ` for database "${pool.database}"`} is exhausted: all ${maxConnections} connections are in use and none came free within ${acquireTimeoutMs} ms`,
      { hint: 'Retry later, or ask the operator to raise upstream.pool.max_connections (within PostgreSQL\'s max_connections) or upstream.pool.acquire_timeout_ms.' },
    );
  }

  private unavailable(why: string): GatehouseError {
    return new GatehouseError('UPSTREAM_UNAVAILABLE', `no upstream connection: ${why}`);
  }
}

/** Whether `e` is a refusal to show the client as it is (else it is an upstream connection failure). */
export function isPoolRefusal(e: unknown): e is GatehouseError {
  return isGatehouseError(e) && (e.code === 'UPSTREAM_POOL_EXHAUSTED' || e.code === 'STARTUP_PARAMETER_INVALID' || e.code === 'UNSAFE_PARSER_SESSION');
}
