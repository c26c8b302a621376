// Startup-phase packets: decoding what a client sends first, encoding what Gatehouse sends upstream.

import { BE, STARTUP_CODE } from './message-types.ts';
import { BodyReader } from './reader.ts';
import { WireError } from './wire-error.ts';
import { MessageWriter } from './writer.ts';

export type StartupPacket =
  | { kind: 'ssl' }
  | { kind: 'gssenc' }
  /** secretKey is 4 bytes in protocol 3.0 and up to 256 bytes in 3.2. */
  | { kind: 'cancel'; processId: number; secretKey: Buffer }
  | { kind: 'startup'; protocolVersion: number; params: Record<string, string> }
  | { kind: 'unknown'; code: number };

/** Longest cancel key protocol 3.2 allows. */
export const MAX_CANCEL_KEY_BYTES = 256;

/**
 * Decodes a startup-phase packet body (everything after the int32 length).
 * Layout: int32 code, then for a StartupMessage pairs of NUL-terminated key and value ended by
 * one extra NUL; for a CancelRequest int32 process id and the secret key.
 */
export function decodeStartupPacket(body: Buffer): StartupPacket {
  const r = new BodyReader(body, 'startup');
  const code = r.int32();
  switch (code) {
    case STARTUP_CODE.SslRequest:
      r.end();
      return { kind: 'ssl' };
    case STARTUP_CODE.GssEncRequest:
      r.end();
      return { kind: 'gssenc' };
    case STARTUP_CODE.CancelRequest: {
      const processId = r.int32();
      const secretKey = r.rest();
      if (secretKey.length < 4 || secretKey.length > MAX_CANCEL_KEY_BYTES) {
        throw new WireError(`cancel request key of ${secretKey.length} bytes is outside 4..${MAX_CANCEL_KEY_BYTES}`);
      }
      return { kind: 'cancel', processId, secretKey };
    }
  }
  if (code >>> 16 !== 3) return { kind: 'unknown', code };
  return { kind: 'startup', protocolVersion: code, params: decodeParams(r) };
}

function decodeParams(r: BodyReader): Record<string, string> {
  // A null-prototype object: a client sending "__proto__" must not reach Object.prototype.
  const params: Record<string, string> = Object.create(null) as Record<string, string>;
  for (;;) {
    if (r.remaining === 0) throw new WireError('startup message parameters are not terminated');
    const key = r.cstring();
    if (key === '') break;
    if (r.remaining === 0) throw new WireError(`startup parameter "${key.slice(0, 64)}" has no value`);
    params[key] = r.cstring();
  }
  r.end();
  return params;
}

/** The minor version of protocol 3 that Gatehouse speaks. */
export const SUPPORTED_MINOR = 0;

/**
 * What to answer with NegotiateProtocolVersion, or null if nothing: needed when the client asks
 * for a newer minor version than ours or sends protocol options (`_pq_.*`) we do not know.
 */
export function protocolNegotiation(
  packet: Extract<StartupPacket, { kind: 'startup' }>,
): { minor: number; unrecognizedOptions: string[] } | null {
  const minor = packet.protocolVersion & 0xffff;
  const unrecognizedOptions = Object.keys(packet.params).filter((k) => k.startsWith('_pq_.'));
  if (minor <= SUPPORTED_MINOR && unrecognizedOptions.length === 0) return null;
  return { minor: Math.min(minor, SUPPORTED_MINOR), unrecognizedOptions };
}

/** NegotiateProtocolVersion ('v'): int32 newest minor supported, int32 count, option names. */
export function negotiateProtocolVersion(minor: number, unrecognizedOptions: readonly string[]): Buffer {
  const w = new MessageWriter(BE.NegotiateProtocolVersion);
  w.int32(minor).int32(unrecognizedOptions.length);
  for (const o of unrecognizedOptions) w.cstring(o);
  return w.finish();
}

/** Decodes a NegotiateProtocolVersion body (the upstream side may receive one). */
export function decodeNegotiateProtocolVersion(body: Buffer): { minor: number; unrecognizedOptions: string[] } {
  const r = new BodyReader(body, 'NegotiateProtocolVersion');
  const minor = r.int32();
  const n = r.int32();
  if (n < 0 || n > r.remaining) throw new WireError('NegotiateProtocolVersion message has a bad count');
  const unrecognizedOptions: string[] = [];
  for (let i = 0; i < n; i++) unrecognizedOptions.push(r.cstring());
  r.end();
  return { minor, unrecognizedOptions };
}

/** StartupMessage: int32 length, int32 protocol version, key/value pairs, final NUL. */
export function encodeStartupMessage(
  params: Record<string, string>,
  protocolVersion: number = STARTUP_CODE.Protocol30,
): Buffer {
  const w = new MessageWriter(null, 128);
  w.int32(protocolVersion);
  for (const [k, v] of Object.entries(params)) {
    if (k === '') throw new WireError('startup parameter name is empty');
    w.cstring(k).cstring(v);
  }
  w.byte(0);
  return w.finish();
}

/** CancelRequest: int32 16 (or more with a 3.2 key), int32 80877102, int32 process id, key. */
export function encodeCancelRequest(processId: number, secretKey: Buffer): Buffer {
  if (secretKey.length < 4 || secretKey.length > MAX_CANCEL_KEY_BYTES) {
    throw new WireError(`cancel key of ${secretKey.length} bytes is outside 4..${MAX_CANCEL_KEY_BYTES}`);
  }
  return new MessageWriter(null, 8 + secretKey.length)
    .int32(STARTUP_CODE.CancelRequest)
    .int32(processId)
    .bytes(secretKey)
    .finish();
}

/** SSLRequest: int32 8, int32 80877103. The server answers one byte, 'S' or 'N'. */
export function encodeSslRequest(): Buffer {
  return new MessageWriter(null, 4).int32(STARTUP_CODE.SslRequest).finish();
}

/** GSSENCRequest: int32 8, int32 80877104. */
export function encodeGssEncRequest(): Buffer {
  return new MessageWriter(null, 4).int32(STARTUP_CODE.GssEncRequest).finish();
}
