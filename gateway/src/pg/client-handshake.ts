// The client side of connection startup: SSLRequest/GSSENCRequest/CancelRequest, TLS
// termination, StartupMessage, and authentication with a JWT sent as the password.

import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import type { GatehouseConfig } from '../config/types.ts';
import { GatehouseError, isGatehouseError } from '../errors.ts';
import type { Identity } from '../policy/types.ts';
import { authenticationCleartextPassword, errorResponse } from '../wire/backend.ts';
import { MessageFramer, readStartupPacket, type Frame } from '../wire/framer.ts';
import { decodeFrontend } from '../wire/frontend.ts';
import { FE } from '../wire/message-types.ts';
import { decodeStartupPacket, negotiateProtocolVersion, protocolNegotiation, type StartupPacket } from '../wire/startup.ts';
import { WireError } from '../wire/wire-error.ts';

export interface HandshakeDeps {
  config: GatehouseConfig;
  tlsContext: SecureContext | null;
  verifyToken(token: string): Promise<Identity>;
  /**
   * Handles a CancelRequest; resolves once the server has the cancel (never rejects). The client's
   * connection is closed only then, as PostgreSQL closes it only after signalling the backend: a
   * client that waits for the close before its next statement must not see that statement cancelled.
   */
  onCancel(processId: number, secretKey: Buffer): Promise<void>;
}

export type HandshakeResult =
  | {
      kind: 'session';
      socket: Socket;
      tls: boolean;
      params: Record<string, string>;
      identity: Identity;
      /** Bytes the client sent after its password, to be handled by the session. */
      leftover: Buffer;
    }
  | { kind: 'done' } // a cancel request, or a connection closed before startup completed
  | { kind: 'invalid'; params: Record<string, string>; reason: string } // refused with 08P01 (audited as a protocol_error)
  | { kind: 'auth-failed'; params: Record<string, string>; reason: string };

const HANDSHAKE_TIMEOUT_MS = 30_000;
/** Startup packets are at most 10000 bytes and a token a few KB: more than this is an attack. */
const MAX_HANDSHAKE_BUFFER = 64 * 1024;
/** Longest password message body accepted (a JWT; the token verifier allows fewer characters still). */
export const MAX_PASSWORD_BYTES = MAX_HANDSHAKE_BUFFER - 5;
/** After a refusal, how long what the client is still sending is read and discarded before the socket is closed. */
const DRAIN_MS = 2_000;

/** A password message too large to be a token: refused with 28P01 before it is read. */
class OversizedPassword extends Error {
  constructor(readonly bytes: number) {
    super(`password of ${bytes} bytes is over the limit of ${MAX_PASSWORD_BYTES} bytes`);
  }
}

/** The client went away during startup: nothing to answer and nothing to audit (a TCP probe, a client that gave up). */
class ClientGone extends WireError {}

/** Reads bytes from a socket on demand, for the short request/response startup phase. */
class StartupReader {
  /** Raw bytes not consumed yet: startup packets first, then (after startup) typed messages. */
  private buf: Buffer = Buffer.alloc(0);
  private waiter: (() => void) | null = null;
  private ended = false;
  /** More was sent than startup can need: the rest is not kept, and the packet or message is refused. */
  private overflow = false;
  private readonly onData = (chunk: Buffer) => {
    if (this.overflow) return;
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    if (this.buf.length > MAX_HANDSHAKE_BUFFER) this.overflow = true;
    this.wake();
  };
  private readonly onEnd = () => {
    this.ended = true;
    this.wake();
  };

  constructor(readonly socket: Socket) {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    socket.on('error', this.onEnd);
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  private async wait(): Promise<void> {
    if (this.ended) throw new ClientGone('connection closed during startup');
    await new Promise<void>((resolve) => (this.waiter = resolve));
  }

  async packet(): Promise<StartupPacket> {
    for (;;) {
      const r = readStartupPacket(this.buf);
      if (r) {
        this.buf = r.rest;
        return decodeStartupPacket(r.packet);
      }
      if (this.overflow) throw new WireError(`more than ${MAX_HANDSHAKE_BUFFER} bytes sent during startup`);
      await this.wait();
    }
  }

  /** The next typed message (the password); what follows it is handed to the session. */
  async typed(maxBytes: number): Promise<{ frame: Frame; leftover: Buffer }> {
    for (;;) {
      // Judged by its header, before its body is read: a password longer than a token can be.
      if (this.buf.length >= 5 && this.buf[0] === FE.Password) {
        const bytes = this.buf.readInt32BE(1) - 4;
        if (bytes > MAX_PASSWORD_BYTES) throw new OversizedPassword(bytes);
      }
      if (this.overflow) throw new WireError(`more than ${MAX_HANDSHAKE_BUFFER} bytes sent during startup`);
      const framer = new MessageFramer(maxBytes);
      framer.push(this.buf);
      const frame = framer.next();
      if (frame) {
        // Anything after the password belongs to the session; hold the socket until it takes over.
        this.socket.pause();
        this.buf = Buffer.alloc(0);
        return { frame, leftover: framer.drain() };
      }
      await this.wait();
    }
  }

  /** Bytes received but not consumed (must be none right after an SSLRequest). */
  pending(): number {
    return this.buf.length;
  }

  detach(): void {
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    this.socket.off('error', this.onEnd);
  }
}

function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/**
 * Sends a FATAL error and closes the connection. What the client is still sending (the rest of an
 * oversized packet) is read and discarded for a moment: closing with unread bytes would reset the
 * connection, and the client would never see the error.
 */
function fatal(socket: Socket, e: GatehouseError): void {
  socket.on('data', () => undefined);
  socket.resume();
  setTimeout(() => socket.destroy(), DRAIN_MS).unref();
  socket.end(
    errorResponse({
      severity: 'FATAL',
      sqlstate: e.sqlstate,
      message: e.message,
      ...(e.hint !== undefined ? { hint: e.hint } : {}),
    }),
  );
}

async function upgradeToTls(socket: Socket, context: SecureContext): Promise<TLSSocket> {
  const tls = new TLSSocket(socket, { isServer: true, secureContext: context });
  await new Promise<void>((resolve, reject) => {
    tls.once('secure', resolve);
    tls.once('error', reject);
    tls.once('close', () => reject(new ClientGone('connection closed during TLS handshake')));
  });
  return tls;
}

/** Runs startup until the client is authenticated (or refused). Never throws. */
export async function clientHandshake(raw: Socket, deps: HandshakeDeps): Promise<HandshakeResult> {
  const timer = setTimeout(() => raw.destroy(), HANDSHAKE_TIMEOUT_MS);
  try {
    return await handshake(raw, deps);
  } finally {
    clearTimeout(timer);
  }
}

async function handshake(raw: Socket, deps: HandshakeDeps): Promise<HandshakeResult> {
  const { config } = deps;
  let socket = raw;
  let tls = false;
  let reader = new StartupReader(socket);
  let params: Record<string, string> = {};
  try {
    for (;;) {
      const packet = await reader.packet();
      switch (packet.kind) {
        case 'ssl':
        case 'gssenc': {
          const offerTls = packet.kind === 'ssl' && deps.tlsContext !== null && !tls;
          if (!offerTls) {
            socket.write('N');
            continue;
          }
          // Bytes sent before the TLS handshake would be trusted as if encrypted (CVE-2021-23214).
          if (reader.pending() > 0) throw new WireError('unencrypted data after SSLRequest');
          reader.detach();
          socket.write('S');
          socket = await upgradeToTls(socket, deps.tlsContext!);
          tls = true;
          reader = new StartupReader(socket);
          continue;
        }
        case 'cancel':
          await deps.onCancel(packet.processId, packet.secretKey);
          socket.end();
          return { kind: 'done' };
        case 'unknown':
          throw new WireError(`unsupported frontend protocol code ${packet.code}`);
        case 'startup':
          params = packet.params;
          break;
        default: {
          const never: never = packet;
          throw new WireError(`unexpected startup packet ${JSON.stringify(never)}`);
        }
      }
      const negotiation = protocolNegotiation(packet);
      if (negotiation) socket.write(negotiateProtocolVersion(negotiation.minor, negotiation.unrecognizedOptions));
      break;
    }

    if (params['replication'] !== undefined && params['replication'] !== 'false') {
      fatal(socket, new GatehouseError('FEATURE_NOT_SUPPORTED', 'Gatehouse does not proxy replication connections'));
      return { kind: 'done' };
    }
    if (!tls && config.tls.mode === 'require') {
      fatal(
        socket,
        new GatehouseError('TLS_REQUIRED', 'Gatehouse requires TLS for every connection', {
          hint: 'Connect with sslmode=require (or verify-full).',
        }),
      );
      return { kind: 'auth-failed', params, reason: 'plaintext connection refused (tls.mode require)' };
    }
    const plaintextOk =
      tls || config.auth.plaintextPassword === 'always' || (config.auth.plaintextPassword === 'loopback' && isLoopback(raw.remoteAddress));
    if (!plaintextOk) {
      fatal(
        socket,
        new GatehouseError('AUTH_SPEC_INVALID', 'Gatehouse accepts a token as password only over TLS on this listener', {
          hint: 'Connect with sslmode=require (or verify-full).',
        }),
      );
      return { kind: 'auth-failed', params, reason: 'password over plaintext refused' };
    }

    socket.write(authenticationCleartextPassword());
    let typed: { frame: Frame; leftover: Buffer };
    try {
      typed = await reader.typed(config.limits.maxMessageBytes);
    } catch (e) {
      if (!(e instanceof OversizedPassword)) throw e;
      reader.detach();
      const reason = `not a JWT: ${e.message}`;
      fatal(
        socket,
        new GatehouseError('AUTH_FAILED', `password authentication failed for user "${params['user'] ?? ''}": ${reason}`, {
          hint: 'Gatehouse expects a valid OIDC token (JWT) from its configured issuer as the password.',
        }),
      );
      return { kind: 'auth-failed', params, reason };
    }
    const { frame, leftover } = typed;
    if (frame.type !== FE.Password) throw new WireError('expected a password message');
    const msg = decodeFrontend(frame);
    if (msg.type !== 'password') throw new WireError('expected a password message');
    let identity: Identity;
    try {
      identity = await deps.verifyToken(msg.password);
    } catch (e) {
      const reason = isGatehouseError(e) ? e.message : 'token verification failed';
      fatal(
        socket,
        new GatehouseError('AUTH_FAILED', `password authentication failed for user "${params['user'] ?? ''}": ${reason}`, {
          hint: 'Gatehouse expects a valid OIDC token (JWT) from its configured issuer as the password.',
        }),
      );
      return { kind: 'auth-failed', params, reason };
    }
    reader.detach();
    return { kind: 'session', socket, tls, params, identity, leftover };
  } catch (e) {
    reader.detach();
    if (e instanceof ClientGone || socket.destroyed) return { kind: 'done' };
    const reason = `invalid startup: ${e instanceof Error ? e.message : String(e)}`;
    fatal(socket, new GatehouseError('PROTOCOL_VIOLATION', reason));
    return { kind: 'invalid', params, reason };
  }
}
