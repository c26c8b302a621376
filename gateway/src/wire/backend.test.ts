import { describe, expect, it } from 'vitest';
import {
  authenticationCleartextPassword,
  authenticationMd5Password,
  authenticationOk,
  authenticationSasl,
  authenticationSaslContinue,
  authenticationSaslFinal,
  backendKeyData,
  bindComplete,
  closeComplete,
  commandComplete,
  dataRow,
  decodeAuthentication,
  decodeBackendKeyData,
  decodeCommandComplete,
  decodeDataRow,
  decodeErrorFields,
  decodeParameterDescription,
  decodeParameterStatus,
  decodeReadyForQuery,
  decodeRowDescription,
  emptyQueryResponse,
  errorResponse,
  noData,
  noticeResponse,
  parameterDescription,
  parameterStatus,
  parseComplete,
  portalSuspended,
  readyForQuery,
  rowDescription,
  type RowField,
} from './backend.ts';
import { BE } from './message-types.ts';
import { expectGarbageSafe, expectTruncationsRejected, frameOf } from './test-helpers.ts';
import { WireError } from './wire-error.ts';

const body = (raw: Buffer): Buffer => frameOf(raw).body;

const FIELDS: RowField[] = [
  { name: 'id', tableOid: 16384, columnAttr: 1, typeOid: 23, typeSize: 4, typeMod: -1, format: 0 },
  { name: 'émail', tableOid: 4294967295, columnAttr: -2, typeOid: 1043, typeSize: -1, typeMod: 259, format: 1 },
  { name: '', tableOid: 0, columnAttr: 0, typeOid: 25, typeSize: -1, typeMod: -1, format: 0 },
];

describe('backend messages', () => {
  it('round-trips ErrorResponse and NoticeResponse', () => {
    const e = errorResponse({ severity: 'ERROR', sqlstate: '42501', message: 'denied', detail: 'd', hint: 'h', position: 7 });
    expect(e[0]).toBe(BE.ErrorResponse);
    expect({ ...decodeErrorFields(body(e)) }).toEqual({ S: 'ERROR', V: 'ERROR', C: '42501', M: 'denied', D: 'd', H: 'h', P: '7' });
    const n = noticeResponse({ severity: 'NOTICE', sqlstate: '00000', message: 'hi' });
    expect(n[0]).toBe(BE.NoticeResponse);
    expect({ ...decodeErrorFields(body(n)) }).toEqual({ S: 'NOTICE', V: 'NOTICE', C: '00000', M: 'hi' });
  });

  it('round-trips authentication requests', () => {
    expect(decodeAuthentication(body(authenticationOk()))).toEqual({ kind: 'ok' });
    expect(authenticationOk()).toEqual(Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 0]));
    expect(decodeAuthentication(body(authenticationCleartextPassword()))).toEqual({ kind: 'cleartext' });
    const salt = Buffer.from([1, 2, 3, 4]);
    expect(decodeAuthentication(body(authenticationMd5Password(salt)))).toEqual({ kind: 'md5', salt });
    expect(decodeAuthentication(body(authenticationSasl(['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'])))).toEqual({
      kind: 'sasl',
      mechanisms: ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'],
    });
    const data = Buffer.from('r=abc,s=def,i=4096');
    expect(decodeAuthentication(body(authenticationSaslContinue(data)))).toEqual({ kind: 'saslContinue', data });
    expect(decodeAuthentication(body(authenticationSaslFinal(data)))).toEqual({ kind: 'saslFinal', data });
    expect(decodeAuthentication(Buffer.from([0, 0, 0, 7]))).toEqual({ kind: 'unsupported', code: 7 });
    expect(() => decodeAuthentication(Buffer.from([0, 0, 0, 99]))).toThrow(WireError);
  });

  it('round-trips ParameterStatus, BackendKeyData, ReadyForQuery, CommandComplete', () => {
    expect(decodeParameterStatus(body(parameterStatus('server_version', '15.20')))).toEqual({
      name: 'server_version',
      value: '15.20',
    });
    for (const key of [Buffer.from([9, 8, 7, 6]), Buffer.alloc(32, 5)]) {
      expect(decodeBackendKeyData(body(backendKeyData(1234, key)))).toEqual({ processId: 1234, secretKey: key });
    }
    for (const s of ['I', 'T', 'E'] as const) expect(decodeReadyForQuery(body(readyForQuery(s)))).toBe(s);
    expect(decodeCommandComplete(body(commandComplete('INSERT 0 3')))).toBe('INSERT 0 3');
  });

  it('round-trips RowDescription and DataRow', () => {
    expect(decodeRowDescription(body(rowDescription(FIELDS)))).toEqual(FIELDS);
    expect(decodeRowDescription(body(rowDescription([])))).toEqual([]);
    const values = [Buffer.from('1'), null, Buffer.alloc(0), Buffer.from('x@y.z')];
    const raw = dataRow(values);
    const decoded = decodeDataRow(body(raw));
    expect(decoded).toEqual(values);
    expect(decoded[0]!.buffer).toBe(raw.buffer); // subarray, no copy
  });

  it('round-trips ParameterDescription', () => {
    expect(decodeParameterDescription(body(parameterDescription([23, 25, 4294967295])))).toEqual([23, 25, 4294967295]);
  });

  it('encodes the empty-bodied messages', () => {
    const cases: [Buffer, number][] = [
      [emptyQueryResponse(), BE.EmptyQueryResponse],
      [parseComplete(), BE.ParseComplete],
      [bindComplete(), BE.BindComplete],
      [closeComplete(), BE.CloseComplete],
      [noData(), BE.NoData],
      [portalSuspended(), BE.PortalSuspended],
    ];
    for (const [raw, type] of cases) expect(raw).toEqual(Buffer.from([type, 0, 0, 0, 4]));
  });

  it('rejects every truncation of every decodable message', () => {
    const pairs: [Buffer, (b: Buffer) => unknown][] = [
      [errorResponse({ severity: 'ERROR', sqlstate: '42501', message: 'm', detail: 'd' }), decodeErrorFields],
      [authenticationMd5Password(Buffer.from([1, 2, 3, 4])), decodeAuthentication],
      [authenticationSasl(['SCRAM-SHA-256']), decodeAuthentication],
      [parameterStatus('a', 'b'), decodeParameterStatus],
      [backendKeyData(1, Buffer.from([1, 2, 3, 4])), decodeBackendKeyData],
      [readyForQuery('I'), decodeReadyForQuery],
      [commandComplete('SELECT 1'), decodeCommandComplete],
      [rowDescription(FIELDS), decodeRowDescription],
      [dataRow([Buffer.from('abc'), null]), decodeDataRow],
      [parameterDescription([23]), decodeParameterDescription],
    ];
    for (const [raw, decode] of pairs) expectTruncationsRejected(body(raw), decode);
  });

  it('rejects malformed bodies', () => {
    expect(() => decodeDataRow(Buffer.from([0, 1, 0xff, 0xff, 0xff, 0xfe]))).toThrow(WireError);
    expect(() => decodeDataRow(Buffer.from([0xff, 0xff]))).toThrow(WireError);
    expect(() => decodeDataRow(Buffer.from([0, 1, 0x7f, 0xff, 0xff, 0xff]))).toThrow(WireError);
    expect(() => decodeReadyForQuery(Buffer.from('X'))).toThrow(WireError);
    expect(() => decodeRowDescription(Buffer.from([0x7f, 0xff, 0]))).toThrow(WireError);
    expect(() => decodeBackendKeyData(Buffer.alloc(4 + 257))).toThrow(WireError);
  });

  it('never throws anything but WireError on garbage bodies', () => {
    const decoders = [
      decodeRowDescription,
      decodeDataRow,
      decodeErrorFields,
      decodeCommandComplete,
      decodeReadyForQuery,
      decodeAuthentication,
      decodeBackendKeyData,
      decodeParameterStatus,
      decodeParameterDescription,
    ];
    decoders.forEach((d, i) => expectGarbageSafe(d, 2000, i + 1));
  });
});
