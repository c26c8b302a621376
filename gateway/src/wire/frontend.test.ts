import { describe, expect, it } from 'vitest';
import {
  decodeFrontend,
  decodeSaslInitialResponse,
  encodeBind,
  encodeClose,
  encodeCopyData,
  encodeCopyDone,
  encodeCopyFail,
  encodeDescribe,
  encodeExecute,
  encodeFlush,
  encodeFunctionCall,
  encodeParse,
  encodePassword,
  encodeQuery,
  encodeSaslInitialResponse,
  encodeSaslResponse,
  encodeSync,
  encodeTerminate,
  type FrontendMessage,
} from './frontend.ts';
import { FE } from './message-types.ts';
import { expectGarbageSafe, expectTruncationsRejected, frameOf } from './test-helpers.ts';
import { WireError } from './wire-error.ts';

const decodeRaw = (raw: Buffer): FrontendMessage => decodeFrontend(frameOf(raw));

const CASES: [Buffer, FrontendMessage][] = [
  [encodeQuery('select 1; select ’é’'), { type: 'query', sql: 'select 1; select ’é’' }],
  [encodeQuery(''), { type: 'query', sql: '' }],
  [
    encodeParse({ name: 's1', sql: 'select $1, $2', paramTypes: [23, 4294967295] }),
    { type: 'parse', name: 's1', sql: 'select $1, $2', paramTypes: [23, 4294967295] },
  ],
  [encodeParse({ name: '', sql: 'x', paramTypes: [] }), { type: 'parse', name: '', sql: 'x', paramTypes: [] }],
  [
    encodeBind({
      portal: 'p',
      statement: 's1',
      paramFormats: [0, 1],
      params: [Buffer.from('42'), null, Buffer.alloc(0)],
      resultFormats: [1],
    }),
    {
      type: 'bind',
      portal: 'p',
      statement: 's1',
      paramFormats: [0, 1],
      params: [Buffer.from('42'), null, Buffer.alloc(0)],
      resultFormats: [1],
    },
  ],
  [encodeDescribe('S', 's1'), { type: 'describe', target: 'S', name: 's1' }],
  [encodeDescribe('P', ''), { type: 'describe', target: 'P', name: '' }],
  [encodeExecute('p', 100), { type: 'execute', portal: 'p', maxRows: 100 }],
  [encodeExecute(''), { type: 'execute', portal: '', maxRows: 0 }],
  [encodeClose('P', 'p'), { type: 'close', target: 'P', name: 'p' }],
  [encodeSync(), { type: 'sync' }],
  [encodeFlush(), { type: 'flush' }],
  [encodeTerminate(), { type: 'terminate' }],
  [encodeCopyData(Buffer.from('1\t2\n')), { type: 'copyData', data: Buffer.from('1\t2\n') }],
  [encodeCopyDone(), { type: 'copyDone' }],
  [encodeCopyFail('boom'), { type: 'copyFail', message: 'boom' }],
  [encodePassword('eyJhbGciOi.x.y'), { type: 'password', password: 'eyJhbGciOi.x.y' }],
];

describe('frontend messages', () => {
  it('round-trips every encoder through decodeFrontend', () => {
    for (const [raw, expected] of CASES) expect(decodeRaw(raw)).toEqual(expected);
  });

  it('matches the byte layout PostgreSQL documents', () => {
    expect(encodeSync()).toEqual(Buffer.from([0x53, 0, 0, 0, 4]));
    expect(encodeQuery('x')).toEqual(Buffer.from([0x51, 0, 0, 0, 6, 0x78, 0]));
    expect(encodeExecute('', 0)).toEqual(Buffer.from([0x45, 0, 0, 0, 9, 0, 0, 0, 0, 0]));
  });

  it('returns Bind parameters as subarrays of the body', () => {
    const raw = encodeBind({ portal: '', statement: '', paramFormats: [], params: [Buffer.from('abc')], resultFormats: [] });
    const m = decodeRaw(raw);
    if (m.type !== 'bind') throw new Error('expected bind');
    expect(m.params[0]!.buffer).toBe(raw.buffer);
  });

  it('decodes the function OID of a FunctionCall, and encodes one without arguments', () => {
    const raw = Buffer.from([FE.FunctionCall, 0, 0, 0, 14, 0, 0, 0x06, 0x3e, 0, 0, 0, 0, 0, 0]);
    expect(decodeRaw(raw)).toEqual({ type: 'functionCall', oid: 1598 });
    expect(encodeFunctionCall(1598)).toEqual(raw);
    expect(() => decodeRaw(Buffer.from([FE.FunctionCall, 0, 0, 0, 6, 0, 1]))).toThrow(WireError);
  });

  it('encodes SASL responses', () => {
    const init = encodeSaslInitialResponse('SCRAM-SHA-256', Buffer.from('n,,n=,r=abc'));
    expect(init[0]).toBe(FE.Password);
    expect(decodeSaslInitialResponse(frameOf(init).body)).toEqual({
      mechanism: 'SCRAM-SHA-256',
      data: Buffer.from('n,,n=,r=abc'),
    });
    const resp = encodeSaslResponse(Buffer.from('c=biws'));
    expect(frameOf(resp).body.toString()).toBe('c=biws');
  });

  it('rejects every truncation of every message (except CopyData, whose body is free-form)', () => {
    for (const [raw, m] of CASES) {
      if (m.type === 'copyData') continue;
      const f = frameOf(raw);
      expectTruncationsRejected(f.body, (body) => decodeFrontend({ type: f.type, body, raw }));
    }
  });

  it('rejects trailing bytes, bad targets, bad lengths and unknown types', () => {
    const bad: Buffer[] = [
      Buffer.concat([encodeQuery('x'), Buffer.from([0])]),
      Buffer.from([0x53, 0, 0, 0, 5, 0]), // Sync with a body
      Buffer.from([0x44, 0, 0, 0, 7, 0x58, 0x61, 0]), // Describe 'X'
      Buffer.from([0x42, 0, 0, 0, 12, 0, 0, 0, 0, 0, 1, 0xff, 0xff]), // Bind: negative param length, truncated
      Buffer.from([0x42, 0, 0, 0, 10, 0, 0, 0xff, 0xff, 0, 0]), // Bind: negative format count
      Buffer.from([0x42, 0, 0, 0, 16, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xfe, 0, 0]), // Bind: length -2
      Buffer.from([0x50, 0, 0, 0, 10, 0, 0, 0x7f, 0xff, 0, 0]), // Parse: 32767 types, no room
      Buffer.from([0x7a, 0, 0, 0, 4]), // unknown 'z'
      Buffer.from([0x70, 0, 0, 0, 7, 0x61, 0x62, 0x63]), // password without NUL
    ];
    for (const raw of bad) {
      const f = { type: raw[0]!, body: raw.subarray(5), raw };
      expect(() => decodeFrontend(f), raw.toString('hex')).toThrow(WireError);
    }
  });

  it('never throws anything but WireError on garbage bodies', () => {
    for (const type of [...Object.values(FE), 0x00, 0x7a]) {
      expectGarbageSafe((body) => decodeFrontend({ type, body, raw: body }), 1000, type);
    }
    expectGarbageSafe(decodeSaslInitialResponse);
  });

  it('refuses to encode strings with NUL bytes', () => {
    expect(() => encodeQuery('select 1\0; drop table x')).toThrow(WireError);
  });
});
