// What a client session holds of its upstream connection, and how it gives it back: the contract
// between pg/session.ts and the two ways of getting one (a connection per session, or the pool).

import type { Socket } from 'node:net';
import type { TransactionStatus } from '../wire/backend.ts';

/** What the client's startup asks of its upstream session. */
export interface UpstreamRequest {
  /** Database to open (the client's when upstream.pass_database, else the URL's; see server.ts). */
  database: string | null;
  /** application_name upstream (`gatehouse` or `gatehouse:<client's>`). */
  applicationName: string;
  /** The client's pass-through startup parameters (client_encoding, DateStyle, ...), already checked safe. */
  params: Record<string, string>;
}

/**
 * How a session ends with its upstream connection. `idle`: the server answered everything it was
 * sent, nothing is in flight, no COPY, no unsynced extended batch; `leftover` holds bytes received
 * and not yet read (an asynchronous message). `spent`: anything else; the socket is already destroyed.
 */
export type UpstreamHandback =
  | { kind: 'idle'; leftover: Buffer; txStatus: TransactionStatus }
  | { kind: 'spent'; why: string };

export interface UpstreamLease {
  /** Paused; the session attaches its listeners and resumes it. */
  readonly socket: Socket;
  /** ParameterStatus values in force (replayed to the client at login). */
  readonly parameters: ReadonlyMap<string, string>;
  /** The backend's own keys (for forwarding a CancelRequest; never shown to the client). */
  readonly processId: number;
  readonly secretKey: Buffer;
  /** Bytes received after the last answer Gatehouse read, to be relayed first. */
  readonly initialBuffer: Buffer;
  /**
   * The answer to SEARCH_PATH_PROBE (pg/search-path.ts) read at checkout, after the client's
   * settings and with nothing sent since, or null: the session asks itself before deciding anything.
   */
  readonly searchPathProbe: string | null;
  /** A ParameterStatus the session relayed (keeps `parameters` true for the next client). */
  reported(name: string, value: string): void;
  /** A CancelRequest forwarded to this backend: the connection serves no other client before it is delivered. */
  cancelling(sent: Promise<unknown>): void;
  /** The session is over: call once, after the client's cancel keys are withdrawn. */
  release(back: UpstreamHandback): void;
}

/**
 * The client a login is for went away (its socket closed): a login waiting for a pooled connection
 * stops waiting. An AbortSignal will do; server.ts passes a lighter view of the client's socket.
 */
export interface Departure {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/** Bytes a client may send while its login waits for a connection before Gatehouse stops reading them. */
const MAX_BYTES_WHILE_WAITING = 64 * 1024;

/**
 * The client's socket as a Departure: aborted once it closed. Nothing is done unless the login
 * waits; then the socket is read (a paused socket never tells that its peer closed), and what the
 * client sent meanwhile (a query sent ahead) is kept for the session: `received()`.
 */
export function socketDeparture(socket: Socket): Departure & { received(): Buffer } {
  const chunks: Buffer[] = [];
  let bytes = 0;
  const collect = (chunk: Buffer): void => {
    chunks.push(chunk);
    bytes += chunk.length;
    if (bytes > MAX_BYTES_WHILE_WAITING) socket.pause();
  };
  return {
    get aborted() {
      return socket.destroyed;
    },
    addEventListener: (_type, listener) => {
      socket.once('close', listener);
      socket.on('data', collect);
      if (bytes <= MAX_BYTES_WHILE_WAITING) socket.resume();
    },
    removeEventListener: (_type, listener) => {
      socket.off('close', listener);
      socket.off('data', collect);
      socket.pause();
    },
    received: () => (chunks.length === 0 ? Buffer.alloc(0) : Buffer.concat(chunks)),
  };
}

/** Where sessions get upstream connections: one per session, or a pool (pg/upstream-pool.ts). */
export interface UpstreamSource {
  /** Rejects with a GatehouseError (UPSTREAM_UNAVAILABLE, UNSAFE_PARSER_SESSION, UPSTREAM_POOL_EXHAUSTED, STARTUP_PARAMETER_INVALID). */
  acquire(request: UpstreamRequest, abandoned: Departure): Promise<UpstreamLease>;
  /** Whether sessions may hand their connection back idle (else they close it). */
  readonly reuses: boolean;
  /** Upstream connections open now. */
  connections(): number;
  close(): Promise<void>;
}
