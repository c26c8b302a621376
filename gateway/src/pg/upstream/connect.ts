// Opening an authenticated session on the real PostgreSQL with Gatehouse's own credentials.

import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { GatehouseError, isGatehouseError } from '../../errors.ts';
import {
  decodeAuthentication,
  decodeBackendKeyData,
  decodeErrorFields,
  decodeParameterStatus,
} from '../../wire/backend.ts';
import { encodePassword, encodeSaslInitialResponse, encodeSaslResponse } from '../../wire/frontend.ts';
import { BE } from '../../wire/message-types.ts';
import { encodeSslRequest, encodeStartupMessage } from '../../wire/startup.ts';
import { isWireError } from '../../wire/wire-error.ts';
import { unsafeReportedSettings, unsafeSessionError } from '../../sql/session-invariants.ts';
import { describeTarget, parseConnectionUrl, type ConnectionSettings } from './connection-url.ts';
import { md5PasswordResponse } from './md5-password.ts';
import { SCRAM_MECHANISM, ScramClient } from './scram.ts';
import { SocketFrames } from './socket-frames.ts';
import { tlsConnectionOptions } from './tls-options.ts';

export interface ConnectUpstreamOptions {
  /** libpq-style URL: postgresql://user:pass@host:port/db?sslmode=...&sslrootcert=...&application_name=... */
  url: string;
  /** Database to open instead of the URL's. */
  database?: string;
  /** application_name instead of the URL's. */
  applicationName?: string;
  /**
   * More startup parameters (e.g. DateStyle, TimeZone, options). Sent as given: the caller
   * decides what a client may set. user, database, replication and _pq_.* are ignored.
   * client_encoding defaults to UTF8 and standard_conforming_strings to on.
   */
  extraParams?: Record<string, string>;
  /** Whole budget for TCP, TLS, authentication and startup, in milliseconds. */
  connectTimeoutMs: number;
}

export interface UpstreamConnection {
  /** Paused and without listeners: attach yours, then call resume(). */
  socket: Socket | TLSSocket;
  /** ParameterStatus values the server sent (server_version, server_encoding, ...). */
  parameters: Map<string, string>;
  processId: number;
  /** 4 bytes with protocol 3.0. Empty if the server sent no BackendKeyData. */
  secretKey: Buffer;
  /** Bytes received after ReadyForQuery, normally empty: process them before new data. */
  initialBuffer: Buffer;
  /** Where the connection went, for sendCancel (a path when host is a socket directory). */
  host: string;
  port: number;
  /** Whether the session runs over TLS. */
  tls: boolean;
}

const IGNORED_EXTRA = new Set(['user', 'database', 'replication']);

/**
 * Connects, negotiates TLS per sslmode, authenticates (trust, cleartext, MD5, SCRAM-SHA-256) and
 * waits for ReadyForQuery. Any failure is a GatehouseError UPSTREAM_UNAVAILABLE saying what
 * failed, never containing the password; a malformed URL is CONFIG_INVALID; a session whose
 * standard_conforming_strings or client_encoding would make PostgreSQL parse SQL differently from
 * Gatehouse (sql/session-invariants.ts) is UNSAFE_PARSER_SESSION.
 */
export async function connectUpstream(opts: ConnectUpstreamOptions): Promise<UpstreamConnection> {
  const settings = parseConnectionUrl(opts.url);
  const attempt = new Attempt(settings, opts);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(attempt.error(`timed out after ${opts.connectTimeoutMs} ms while ${attempt.phase}`));
    }, opts.connectTimeoutMs);
  });
  try {
    return await Promise.race([attempt.run(), timeout]);
  } catch (e) {
    attempt.abort();
    throw isGatehouseError(e) ? e : attempt.error(describeFailure(e), e);
  } finally {
    clearTimeout(timer);
  }
}

function describeFailure(e: unknown): string {
  if (isWireError(e)) return `malformed message from the server (${e.reason})`;
  const err = e as NodeJS.ErrnoException;
  return err?.message ?? String(e);
}

/** One connection attempt; `phase` says what it was doing, for error messages. */
class Attempt {
  phase = 'connecting';
  private socket: Socket | null = null;
  private readonly target: string;

  constructor(
    private readonly s: ConnectionSettings,
    private readonly opts: ConnectUpstreamOptions,
  ) {
    this.target = describeTarget(s);
  }

  error(what: string, cause?: unknown): GatehouseError {
    const detail = `user "${this.s.user}", database "${this.opts.database ?? this.s.database}", sslmode ${this.s.sslmode}`;
    const message = redactText(`upstream PostgreSQL at ${this.target}: ${what}`, this.s.password);
    return new GatehouseError('UPSTREAM_UNAVAILABLE', message, {
      detail,
      ...(cause === undefined ? {} : { cause: redact(cause, this.s.password) }),
    });
  }

  abort(): void {
    this.socket?.destroy();
  }

  async run(): Promise<UpstreamConnection> {
    let socket = await this.connectTcp();
    let tls = false;
    if (this.s.sslmode !== 'disable' && this.s.sslmode !== 'allow' && !this.s.host.startsWith('/')) {
      this.phase = 'requesting TLS';
      socket.write(encodeSslRequest());
      const answer = await readSslAnswer(socket);
      if (answer === 'S') {
        this.phase = 'negotiating TLS';
        socket = await this.startTls(socket);
        tls = true;
      } else if (this.s.sslmode !== 'prefer') {
        throw this.error(`server does not support TLS, but sslmode is ${this.s.sslmode}`);
      }
    }
    return this.startup(socket, tls);
  }

  private connectTcp(): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = this.s.host.startsWith('/')
        ? netConnect({ path: `${this.s.host}/.s.PGSQL.${this.s.port}` })
        : netConnect({ host: this.s.host, port: this.s.port });
      this.socket = socket;
      socket.setNoDelay(true);
      socket.setKeepAlive(true);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(socket);
      });
      socket.once('error', (e) => reject(this.error(`could not connect: ${e.message}`, e)));
    });
  }

  private startTls(plain: Socket): Promise<TLSSocket> {
    const options = tlsConnectionOptions(this.s);
    return new Promise((resolve, reject) => {
      const socket = tlsConnect({ ...options, socket: plain });
      this.socket = socket;
      socket.once('secureConnect', () => {
        socket.off('error', onError);
        socket.setNoDelay(true);
        resolve(socket);
      });
      const onError = (e: Error): void => reject(this.error(`TLS handshake failed: ${e.message}`, e));
      socket.once('error', onError);
    });
  }

  private startupParams(): Record<string, string> {
    const params: Record<string, string> = {
      user: this.s.user,
      database: this.opts.database ?? this.s.database,
    };
    const appName = this.opts.applicationName ?? this.s.applicationName;
    if (appName !== null && appName !== undefined) params['application_name'] = appName;
    if (this.s.options !== null) params['options'] = this.s.options;
    for (const [k, v] of Object.entries(this.opts.extraParams ?? {})) {
      if (IGNORED_EXTRA.has(k) || k.startsWith('_pq_.')) continue;
      params[k] = v;
    }
    // Gatehouse parses SQL as UTF-8 with standard_conforming_strings on (sql/session-invariants.ts).
    // Startup parameters take precedence over role and database defaults, and RESET returns to them.
    for (const [name, value] of [['client_encoding', 'UTF8'], ['standard_conforming_strings', 'on']] as const) {
      if (!Object.keys(params).some((k) => k.toLowerCase() === name)) params[name] = value;
    }
    return params;
  }

  private async startup(socket: Socket, tls: boolean): Promise<UpstreamConnection> {
    this.phase = 'authenticating';
    const frames = new SocketFrames(socket);
    socket.write(encodeStartupMessage(this.startupParams()));
    const parameters = new Map<string, string>();
    let processId = 0;
    let secretKey = Buffer.alloc(0);
    let authenticated = false;
    let scram: ScramClient | null = null;
    let scramVerified = false;

    for (;;) {
      let frame;
      try {
        frame = await frames.next();
      } catch (e) {
        if (isGatehouseError(e) || isWireError(e)) throw e;
        throw this.error(`${(e as Error).message} while ${this.phase}`, e);
      }
      switch (frame.type) {
        case BE.Authentication: {
          if (authenticated) throw this.error('server sent an authentication request after AuthenticationOk');
          const req = decodeAuthentication(frame.body);
          switch (req.kind) {
            case 'ok':
              if (scram !== null && !scramVerified) throw this.error('server ended SCRAM without proving its identity');
              authenticated = true;
              this.phase = 'waiting for ReadyForQuery';
              break;
            case 'cleartext':
              socket.write(encodePassword(this.password('cleartext password')));
              break;
            case 'md5':
              socket.write(encodePassword(md5PasswordResponse(this.s.user, this.password('MD5'), req.salt)));
              break;
            case 'sasl': {
              if (!req.mechanisms.includes(SCRAM_MECHANISM)) {
                throw this.error(`server offers only SASL mechanisms ${req.mechanisms.join(', ')}, not ${SCRAM_MECHANISM}`);
              }
              scram = new ScramClient(this.password('SCRAM-SHA-256'));
              socket.write(encodeSaslInitialResponse(SCRAM_MECHANISM, Buffer.from(scram.clientFirstMessage)));
              break;
            }
            case 'saslContinue':
              if (scram === null) throw this.error('server sent SASLContinue without starting SASL');
              socket.write(encodeSaslResponse(Buffer.from(await scram.handleServerFirst(req.data.toString('utf8')))));
              break;
            case 'saslFinal':
              if (scram === null) throw this.error('server sent SASLFinal without starting SASL');
              scram.verifyServerFinal(req.data.toString('utf8'));
              scramVerified = true;
              break;
            case 'unsupported':
              throw this.error(`server requested an unsupported authentication method (code ${req.code})`);
            default:
              req satisfies never;
          }
          break;
        }
        case BE.ParameterStatus: {
          const p = decodeParameterStatus(frame.body);
          parameters.set(p.name, p.value);
          break;
        }
        case BE.BackendKeyData: {
          const k = decodeBackendKeyData(frame.body);
          processId = k.processId;
          secretKey = Buffer.from(k.secretKey); // own copy: the frame's memory belongs to a socket chunk
          break;
        }
        case BE.ReadyForQuery: {
          if (!authenticated) throw this.error('server sent ReadyForQuery before authentication completed');
          const unsafe = unsafeReportedSettings(parameters);
          if (unsafe !== null) throw unsafeSessionError(unsafe, 'upstream-startup');
          const initialBuffer = frames.detach();
          return { socket, parameters, processId, secretKey, initialBuffer, host: this.s.host, port: this.s.port, tls };
        }
        case BE.ErrorResponse: {
          const f = decodeErrorFields(frame.body);
          throw this.error(`server refused the connection while ${this.phase}: ${f['M'] ?? 'no message'} (SQLSTATE ${f['C'] ?? 'unknown'})`);
        }
        case BE.NoticeResponse:
        case BE.NegotiateProtocolVersion:
          break; // we ask for 3.0 without protocol options: nothing to adapt
        default:
          throw this.error(`unexpected message type 0x${frame.type.toString(16)} while ${this.phase}`);
      }
    }
  }

  private password(method: string): string {
    if (this.s.password === null) {
      throw this.error(`server requested ${method} authentication but the upstream URL has no password`);
    }
    return this.s.password;
  }
}

/** Reads the one-byte answer to SSLRequest; more bytes would be injected plaintext (CVE-2021-23222). */
function readSslAnswer(socket: Socket): Promise<'S' | 'N'> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      cleanup();
      socket.pause();
      const b = chunk[0];
      if (chunk.length !== 1) reject(new Error('server sent unexpected data after its answer to SSLRequest'));
      else if (b === 0x53) resolve('S');
      else if (b === 0x4e) resolve('N');
      else reject(new Error(`server answered SSLRequest with 0x${(b ?? 0).toString(16)}`));
    };
    const onError = (e: Error): void => {
      cleanup();
      reject(e);
    };
    const onClose = (): void => {
      cleanup();
      reject(new Error('server closed the connection after SSLRequest'));
    };
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
  });
}

function redactText(text: string, password: string | null): string {
  if (password === null || password === '' || !text.includes(password)) return text;
  return text.split(password).join('***');
}

/** A cause safe to keep on an error: its message must not carry the password. */
function redact(cause: unknown, password: string | null): unknown {
  if (!(cause instanceof Error)) return cause;
  const message = redactText(cause.message, password);
  return message === cause.message ? cause : new Error(message);
}
