// Frontend (client → server) messages: decoding what clients send, encoding what Gatehouse sends upstream.

import type { Frame } from './framer.ts';
import { FE } from './message-types.ts';
import { BodyReader } from './reader.ts';
import { WireError } from './wire-error.ts';
import { emptyMessage, MessageWriter } from './writer.ts';

/** 'S' = prepared statement, 'P' = portal. */
export type DescribeTarget = 'S' | 'P';

export interface BindMessage {
  portal: string;
  statement: string;
  /** 0 = text, 1 = binary; none means all text, one applies to all parameters. */
  paramFormats: number[];
  /** Parameter values; null is SQL NULL. Subarrays of the received body. */
  params: (Buffer | null)[];
  resultFormats: number[];
}

export interface ParseMessage {
  name: string;
  sql: string;
  /** Parameter type OIDs; 0 leaves the type unspecified. */
  paramTypes: number[];
}

export type FrontendMessage =
  | { type: 'query'; sql: string }
  | ({ type: 'parse' } & ParseMessage)
  | ({ type: 'bind' } & BindMessage)
  | { type: 'describe'; target: DescribeTarget; name: string }
  | { type: 'execute'; portal: string; maxRows: number }
  | { type: 'close'; target: DescribeTarget; name: string }
  | { type: 'sync' }
  | { type: 'flush' }
  | { type: 'terminate' }
  | { type: 'copyData'; data: Buffer }
  | { type: 'copyDone' }
  | { type: 'copyFail'; message: string }
  /** A PasswordMessage; SASL and GSS responses share its type byte but not its layout. */
  | { type: 'password'; password: string }
  /** FunctionCall (fast-path): the function's OID; its arguments are not decoded (Gatehouse refuses every call). */
  | { type: 'functionCall'; oid: number };

export type FrontendMessageType = FrontendMessage['type'];

/** Decodes one frontend message. Throws WireError on an unknown type byte or a malformed body. */
export function decodeFrontend(frame: Frame): FrontendMessage {
  const body = frame.body;
  switch (frame.type) {
    case FE.Query: {
      const r = new BodyReader(body, 'Query');
      const sql = r.cstring();
      r.end();
      return { type: 'query', sql };
    }
    // Fields named, not spread in: a spread copies through V8's generic path (about 0.1 µs a message).
    case FE.Parse: {
      const m = decodeParse(body);
      return { type: 'parse', name: m.name, sql: m.sql, paramTypes: m.paramTypes };
    }
    case FE.Bind: {
      const m = decodeBind(body);
      return { type: 'bind', portal: m.portal, statement: m.statement, paramFormats: m.paramFormats, params: m.params, resultFormats: m.resultFormats };
    }
    case FE.Describe: {
      const m = decodeTargetName(body, 'Describe');
      return { type: 'describe', target: m.target, name: m.name };
    }
    case FE.Execute: {
      const r = new BodyReader(body, 'Execute');
      const portal = r.cstring();
      const maxRows = r.int32();
      r.end();
      return { type: 'execute', portal, maxRows };
    }
    case FE.Close: {
      const m = decodeTargetName(body, 'Close');
      return { type: 'close', target: m.target, name: m.name };
    }
    case FE.Sync:
      expectEmpty(body, 'Sync');
      return { type: 'sync' };
    case FE.Flush:
      expectEmpty(body, 'Flush');
      return { type: 'flush' };
    case FE.Terminate:
      expectEmpty(body, 'Terminate');
      return { type: 'terminate' };
    case FE.CopyData:
      return { type: 'copyData', data: body };
    case FE.CopyDone:
      expectEmpty(body, 'CopyDone');
      return { type: 'copyDone' };
    case FE.CopyFail: {
      const r = new BodyReader(body, 'CopyFail');
      const message = r.cstring();
      r.end();
      return { type: 'copyFail', message };
    }
    case FE.Password:
      return { type: 'password', password: decodePasswordMessage(body) };
    case FE.FunctionCall:
      // uint32 function OID, then argument formats, arguments and result format: only the OID is read.
      return { type: 'functionCall', oid: new BodyReader(body, 'FunctionCall').uint32() };
    default:
      throw new WireError(`unknown frontend message type 0x${frame.type.toString(16).padStart(2, '0')}`);
  }
}

function expectEmpty(body: Buffer, what: string): void {
  if (body.length !== 0) throw new WireError(`${what} message has trailing bytes`);
}

function decodeTarget(r: BodyReader, what: string): DescribeTarget {
  const t = r.byte();
  if (t === 0x53) return 'S';
  if (t === 0x50) return 'P';
  throw new WireError(`${what} message has an invalid target`);
}

function decodeTargetName(body: Buffer, what: string): { target: DescribeTarget; name: string } {
  const r = new BodyReader(body, what);
  const target = decodeTarget(r, what);
  const name = r.cstring();
  r.end();
  return { target, name };
}

/** Parse: name, query, int16 n, n × uint32 type OID. */
export function decodeParse(body: Buffer): ParseMessage {
  const r = new BodyReader(body, 'Parse');
  const name = r.cstring();
  const sql = r.cstring();
  const n = r.count16(4);
  const paramTypes = new Array<number>(n);
  for (let i = 0; i < n; i++) paramTypes[i] = r.uint32();
  r.end();
  return { name, sql, paramTypes };
}

/**
 * Bind: portal, statement, int16 n + n × int16 format, int16 n + n × (int32 length, -1 = NULL,
 * then bytes), int16 n + n × int16 result format.
 */
export function decodeBind(body: Buffer): BindMessage {
  const r = new BodyReader(body, 'Bind');
  const portal = r.cstring();
  const statement = r.cstring();
  const paramFormats = readInt16List(r);
  const nParams = r.count16(4);
  const params = new Array<Buffer | null>(nParams);
  for (let i = 0; i < nParams; i++) {
    const len = r.int32();
    if (len === -1) params[i] = null;
    else if (len < 0) throw new WireError('Bind message has a negative parameter length');
    else params[i] = r.bytes(len);
  }
  const resultFormats = readInt16List(r);
  r.end();
  return { portal, statement, paramFormats, params, resultFormats };
}

function readInt16List(r: BodyReader): number[] {
  const n = r.count16(2);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = r.int16();
  return out;
}

/** PasswordMessage: one NUL-terminated string filling the body. */
export function decodePasswordMessage(body: Buffer): string {
  const r = new BodyReader(body, 'PasswordMessage');
  const password = r.cstring();
  r.end();
  return password;
}

/** SASLInitialResponse: mechanism name, int32 length (-1 = none), data. */
export function decodeSaslInitialResponse(body: Buffer): { mechanism: string; data: Buffer | null } {
  const r = new BodyReader(body, 'SASLInitialResponse');
  const mechanism = r.cstring();
  const len = r.int32();
  const data = len === -1 ? null : r.bytes(len);
  r.end();
  return { mechanism, data };
}

// ---- encoders (Gatehouse → upstream PostgreSQL) ----

export function encodeQuery(sql: string): Buffer {
  return new MessageWriter(FE.Query, sql.length + 1).cstring(sql).finish();
}

export function encodeParse(m: ParseMessage): Buffer {
  const w = new MessageWriter(FE.Parse, m.name.length + m.sql.length + 4 + m.paramTypes.length * 4);
  w.cstring(m.name).cstring(m.sql).int16(m.paramTypes.length);
  for (const oid of m.paramTypes) w.uint32(oid);
  return w.finish();
}

export function encodeBind(m: BindMessage): Buffer {
  let size = m.portal.length + m.statement.length + 8;
  for (const p of m.params) size += 4 + (p === null ? 0 : p.length);
  const w = new MessageWriter(FE.Bind, size + 2 * (m.paramFormats.length + m.resultFormats.length));
  w.cstring(m.portal).cstring(m.statement);
  w.int16(m.paramFormats.length);
  for (const f of m.paramFormats) w.int16(f);
  w.int16(m.params.length);
  for (const p of m.params) {
    if (p === null) w.int32(-1);
    else w.int32(p.length).bytes(p);
  }
  w.int16(m.resultFormats.length);
  for (const f of m.resultFormats) w.int16(f);
  return w.finish();
}

/** A FunctionCall of function `oid` with no arguments and a text result. */
export function encodeFunctionCall(oid: number): Buffer {
  return new MessageWriter(FE.FunctionCall).uint32(oid).int16(0).int16(0).int16(0).finish();
}

export function encodeDescribe(target: DescribeTarget, name: string): Buffer {
  return new MessageWriter(FE.Describe).byte(target.charCodeAt(0)).cstring(name).finish();
}

export function encodeExecute(portal: string, maxRows = 0): Buffer {
  return new MessageWriter(FE.Execute).cstring(portal).int32(maxRows).finish();
}

export function encodeClose(target: DescribeTarget, name: string): Buffer {
  return new MessageWriter(FE.Close).byte(target.charCodeAt(0)).cstring(name).finish();
}

// Constant messages are shared buffers: never mutate them.
const SYNC = emptyMessage(FE.Sync);
const FLUSH = emptyMessage(FE.Flush);
const TERMINATE = emptyMessage(FE.Terminate);
const COPY_DONE = emptyMessage(FE.CopyDone);

export function encodeSync(): Buffer {
  return SYNC;
}

export function encodeFlush(): Buffer {
  return FLUSH;
}

export function encodeTerminate(): Buffer {
  return TERMINATE;
}

export function encodeCopyDone(): Buffer {
  return COPY_DONE;
}

export function encodeCopyData(data: Uint8Array): Buffer {
  return new MessageWriter(FE.CopyData, data.length).bytes(data).finish();
}

export function encodeCopyFail(message: string): Buffer {
  return new MessageWriter(FE.CopyFail).cstring(message).finish();
}

/** PasswordMessage carrying a cleartext password or an "md5…" hash. */
export function encodePassword(password: string): Buffer {
  return new MessageWriter(FE.Password, password.length + 1).cstring(password).finish();
}

/** SASLInitialResponse: mechanism, int32 data length, data (the client-first-message). */
export function encodeSaslInitialResponse(mechanism: string, data: Uint8Array): Buffer {
  return new MessageWriter(FE.Password, mechanism.length + 5 + data.length)
    .cstring(mechanism)
    .int32(data.length)
    .bytes(data)
    .finish();
}

/** SASLResponse: the data fills the body (the client-final-message). */
export function encodeSaslResponse(data: Uint8Array): Buffer {
  return new MessageWriter(FE.Password, data.length).bytes(data).finish();
}
