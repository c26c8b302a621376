// Backend (server → client) messages: encoding what Gatehouse answers, decoding what upstream sends.

import { AUTH_CODE, BE } from './message-types.ts';
import { BodyReader } from './reader.ts';
import { WireError } from './wire-error.ts';
import { emptyMessage, MessageWriter } from './writer.ts';

export type TransactionStatus = 'I' | 'T' | 'E';

/** One column of a RowDescription. OIDs are unsigned; typeMod -1 means none. */
export interface RowField {
  name: string;
  /** OID of the source table, 0 when the column is not a plain table column. */
  tableOid: number;
  /** Attribute number in that table, 0 when unknown. */
  columnAttr: number;
  typeOid: number;
  typeSize: number;
  typeMod: number;
  /** 0 = text, 1 = binary. */
  format: number;
}

/** Fields of an ErrorResponse or NoticeResponse that Gatehouse sets itself. */
export interface ErrorFields {
  /** ERROR, FATAL, PANIC (errors) or WARNING, NOTICE, DEBUG, INFO, LOG (notices). */
  severity: string;
  sqlstate: string;
  message: string;
  detail?: string;
  hint?: string;
  /** 1-based character position in the query text. */
  position?: number;
}

export type AuthenticationRequest =
  | { kind: 'ok' }
  | { kind: 'cleartext' }
  | { kind: 'md5'; salt: Buffer }
  | { kind: 'sasl'; mechanisms: string[] }
  | { kind: 'saslContinue'; data: Buffer }
  | { kind: 'saslFinal'; data: Buffer }
  /** Kerberos, GSSAPI, SSPI: recognised, not supported by Gatehouse. */
  | { kind: 'unsupported'; code: number };

// ---- encoders (Gatehouse → client) ----

/**
 * ErrorResponse / NoticeResponse: a list of (field code byte, NUL-terminated value) ended by a 0
 * byte. S = localized severity, V = severity, C = SQLSTATE, M = message, D = detail, H = hint,
 * P = position.
 */
function encodeFields(type: number, f: ErrorFields): Buffer {
  const w = new MessageWriter(type, 32 + f.message.length);
  w.byte(0x53).cstring(f.severity);
  w.byte(0x56).cstring(f.severity);
  w.byte(0x43).cstring(f.sqlstate);
  w.byte(0x4d).cstring(f.message);
  if (f.detail !== undefined) w.byte(0x44).cstring(f.detail);
  if (f.hint !== undefined) w.byte(0x48).cstring(f.hint);
  if (f.position !== undefined) w.byte(0x50).cstring(String(f.position));
  w.byte(0);
  return w.finish();
}

export function errorResponse(f: ErrorFields): Buffer {
  return encodeFields(BE.ErrorResponse, f);
}

export function noticeResponse(f: ErrorFields): Buffer {
  return encodeFields(BE.NoticeResponse, f);
}

/** An ErrorResponse or NoticeResponse (`type`) from fields keyed by their code, in the given order (e.g. decoded, then edited). */
export function encodeErrorFields(type: typeof BE.ErrorResponse | typeof BE.NoticeResponse, fields: Readonly<Record<string, string>>): Buffer {
  const w = new MessageWriter(type, 64);
  for (const [code, value] of Object.entries(fields)) w.byte(code.charCodeAt(0)).cstring(value);
  w.byte(0);
  return w.finish();
}

function authentication(code: number, extra = 0): MessageWriter {
  return new MessageWriter(BE.Authentication, 4 + extra).int32(code);
}

export function authenticationOk(): Buffer {
  return authentication(AUTH_CODE.Ok).finish();
}

export function authenticationCleartextPassword(): Buffer {
  return authentication(AUTH_CODE.CleartextPassword).finish();
}

export function authenticationMd5Password(salt: Buffer): Buffer {
  if (salt.length !== 4) throw new WireError('MD5 salt must be 4 bytes');
  return authentication(AUTH_CODE.Md5Password, 4).bytes(salt).finish();
}

/** AuthenticationSASL: mechanism names, each NUL-terminated, then a final NUL. */
export function authenticationSasl(mechanisms: readonly string[]): Buffer {
  const w = authentication(AUTH_CODE.Sasl, 32);
  for (const m of mechanisms) w.cstring(m);
  return w.byte(0).finish();
}

export function authenticationSaslContinue(data: Uint8Array): Buffer {
  return authentication(AUTH_CODE.SaslContinue, data.length).bytes(data).finish();
}

export function authenticationSaslFinal(data: Uint8Array): Buffer {
  return authentication(AUTH_CODE.SaslFinal, data.length).bytes(data).finish();
}

export function parameterStatus(name: string, value: string): Buffer {
  return new MessageWriter(BE.ParameterStatus, name.length + value.length + 2).cstring(name).cstring(value).finish();
}

/** BackendKeyData: int32 process id, secret key (4 bytes in 3.0, up to 256 in 3.2). */
export function backendKeyData(processId: number, secretKey: Buffer): Buffer {
  return new MessageWriter(BE.BackendKeyData, 4 + secretKey.length).int32(processId).bytes(secretKey).finish();
}

const READY: Record<TransactionStatus, Buffer> = {
  I: new MessageWriter(BE.ReadyForQuery, 1).byte(0x49).finish(),
  T: new MessageWriter(BE.ReadyForQuery, 1).byte(0x54).finish(),
  E: new MessageWriter(BE.ReadyForQuery, 1).byte(0x45).finish(),
};

/** ReadyForQuery; the returned buffer is shared: never mutate it. */
export function readyForQuery(status: TransactionStatus): Buffer {
  return READY[status];
}

/** RowDescription: int16 count, then per field name, int32 table OID, int16 attr, int32 type OID, int16 size, int32 typmod, int16 format. */
export function rowDescription(fields: readonly RowField[]): Buffer {
  const w = new MessageWriter(BE.RowDescription, 2 + fields.length * 32);
  w.int16(fields.length);
  for (const f of fields) {
    w.cstring(f.name).uint32(f.tableOid).int16(f.columnAttr).uint32(f.typeOid);
    w.int16(f.typeSize).int32(f.typeMod).int16(f.format);
  }
  return w.finish();
}

/** CopyData from the server (COPY TO STDOUT): one row of text or CSV, or a chunk of binary COPY. */
export function copyData(data: Uint8Array): Buffer {
  return new MessageWriter(BE.CopyData, data.length).bytes(data).finish();
}

/** DataRow: int16 count, then per value int32 length (-1 = NULL) and bytes. */
export function dataRow(values: readonly (Buffer | null)[]): Buffer {
  let size = 2;
  for (const v of values) size += 4 + (v === null ? 0 : v.length);
  const w = new MessageWriter(BE.DataRow, size);
  w.int16(values.length);
  for (const v of values) {
    if (v === null) w.int32(-1);
    else w.int32(v.length).bytes(v);
  }
  return w.finish();
}

export function commandComplete(tag: string): Buffer {
  return new MessageWriter(BE.CommandComplete, tag.length + 1).cstring(tag).finish();
}

// Constant messages are shared buffers: never mutate them.
const EMPTY_QUERY = emptyMessage(BE.EmptyQueryResponse);
const PARSE_COMPLETE = emptyMessage(BE.ParseComplete);
const BIND_COMPLETE = emptyMessage(BE.BindComplete);
const CLOSE_COMPLETE = emptyMessage(BE.CloseComplete);
const NO_DATA = emptyMessage(BE.NoData);
const PORTAL_SUSPENDED = emptyMessage(BE.PortalSuspended);

export function emptyQueryResponse(): Buffer {
  return EMPTY_QUERY;
}

export function parseComplete(): Buffer {
  return PARSE_COMPLETE;
}

export function bindComplete(): Buffer {
  return BIND_COMPLETE;
}

export function closeComplete(): Buffer {
  return CLOSE_COMPLETE;
}

export function noData(): Buffer {
  return NO_DATA;
}

export function portalSuspended(): Buffer {
  return PORTAL_SUSPENDED;
}

/** ParameterDescription: int16 count, n × uint32 type OID. */
export function parameterDescription(typeOids: readonly number[]): Buffer {
  const w = new MessageWriter(BE.ParameterDescription, 2 + typeOids.length * 4);
  w.int16(typeOids.length);
  for (const oid of typeOids) w.uint32(oid);
  return w.finish();
}

// ---- decoders (upstream PostgreSQL → Gatehouse) ----

export function decodeRowDescription(body: Buffer): RowField[] {
  const r = new BodyReader(body, 'RowDescription');
  const n = r.count16(19); // shortest field: empty name (1) + 18 bytes of numbers
  const fields = new Array<RowField>(n);
  for (let i = 0; i < n; i++) {
    fields[i] = {
      name: r.cstring(),
      tableOid: r.uint32(),
      columnAttr: r.int16(),
      typeOid: r.uint32(),
      typeSize: r.int16(),
      typeMod: r.int32(),
      format: r.int16(),
    };
  }
  r.end();
  return fields;
}

/** Values are subarrays of the body: no copy. */
export function decodeDataRow(body: Buffer): (Buffer | null)[] {
  const r = new BodyReader(body, 'DataRow');
  const n = r.count16(4);
  const values = new Array<Buffer | null>(n);
  for (let i = 0; i < n; i++) {
    const len = r.int32();
    if (len === -1) values[i] = null;
    else if (len < 0) throw new WireError('DataRow message has a negative value length');
    else values[i] = r.bytes(len);
  }
  r.end();
  return values;
}

/** ErrorResponse / NoticeResponse fields keyed by their one-letter code (S, V, C, M, D, H, P, ...). */
export function decodeErrorFields(body: Buffer): Record<string, string> {
  const r = new BodyReader(body, 'ErrorResponse');
  const fields: Record<string, string> = Object.create(null) as Record<string, string>;
  for (;;) {
    const code = r.byte();
    if (code === 0) break;
    fields[String.fromCharCode(code)] = r.cstring();
  }
  r.end();
  return fields;
}

export function decodeCommandComplete(body: Buffer): string {
  const r = new BodyReader(body, 'CommandComplete');
  const tag = r.cstring();
  r.end();
  return tag;
}

export function decodeReadyForQuery(body: Buffer): TransactionStatus {
  if (body.length !== 1) throw new WireError('ReadyForQuery message has a bad length');
  const s = body[0];
  if (s === 0x49) return 'I';
  if (s === 0x54) return 'T';
  if (s === 0x45) return 'E';
  throw new WireError('ReadyForQuery message has an invalid status');
}

export function decodeAuthentication(body: Buffer): AuthenticationRequest {
  const r = new BodyReader(body, 'Authentication');
  const code = r.int32();
  switch (code) {
    case AUTH_CODE.Ok:
      r.end();
      return { kind: 'ok' };
    case AUTH_CODE.CleartextPassword:
      r.end();
      return { kind: 'cleartext' };
    case AUTH_CODE.Md5Password: {
      const salt = r.bytes(4);
      r.end();
      return { kind: 'md5', salt };
    }
    case AUTH_CODE.Sasl: {
      const mechanisms: string[] = [];
      for (;;) {
        const m = r.cstring();
        if (m === '') break;
        mechanisms.push(m);
      }
      r.end();
      return { kind: 'sasl', mechanisms };
    }
    case AUTH_CODE.SaslContinue:
      return { kind: 'saslContinue', data: r.rest() };
    case AUTH_CODE.SaslFinal:
      return { kind: 'saslFinal', data: r.rest() };
    case AUTH_CODE.KerberosV5:
    case AUTH_CODE.Gss:
    case AUTH_CODE.GssContinue:
    case AUTH_CODE.Sspi:
      return { kind: 'unsupported', code };
    default:
      throw new WireError(`unknown authentication request code ${code}`);
  }
}

export function decodeBackendKeyData(body: Buffer): { processId: number; secretKey: Buffer } {
  const r = new BodyReader(body, 'BackendKeyData');
  const processId = r.int32();
  const secretKey = r.rest();
  if (secretKey.length < 4 || secretKey.length > 256) throw new WireError('BackendKeyData message has a bad key length');
  return { processId, secretKey };
}

export function decodeParameterStatus(body: Buffer): { name: string; value: string } {
  const r = new BodyReader(body, 'ParameterStatus');
  const name = r.cstring();
  const value = r.cstring();
  r.end();
  return { name, value };
}

/** ParameterDescription: the type OIDs of a prepared statement's parameters. */
export function decodeParameterDescription(body: Buffer): number[] {
  const r = new BodyReader(body, 'ParameterDescription');
  const n = r.count16(4);
  const oids = new Array<number>(n);
  for (let i = 0; i < n; i++) oids[i] = r.uint32();
  r.end();
  return oids;
}
