import { describe, expect, it } from 'vitest';
import { readStartupPacket } from './framer.ts';
import { STARTUP_CODE } from './message-types.ts';
import {
  decodeNegotiateProtocolVersion,
  decodeStartupPacket,
  encodeCancelRequest,
  encodeGssEncRequest,
  encodeSslRequest,
  encodeStartupMessage,
  negotiateProtocolVersion,
  protocolNegotiation,
  type StartupPacket,
} from './startup.ts';
import { expectGarbageSafe } from './test-helpers.ts';
import { WireError } from './wire-error.ts';

/** Encoded packet → body via the framing function, then decoded. */
function roundTrip(packet: Buffer): StartupPacket {
  const r = readStartupPacket(packet);
  expect(r?.rest.length).toBe(0);
  return decodeStartupPacket(r!.packet);
}

function body(...parts: (number | string)[]): Buffer {
  return Buffer.concat(
    parts.map((p) => {
      if (typeof p === 'string') return Buffer.from(p, 'utf8');
      const b = Buffer.alloc(4);
      b.writeInt32BE(p, 0);
      return b;
    }),
  );
}

describe('startup packets', () => {
  it('round-trips SSLRequest and GSSENCRequest', () => {
    expect(encodeSslRequest()).toEqual(Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]));
    expect(roundTrip(encodeSslRequest())).toEqual({ kind: 'ssl' });
    expect(roundTrip(encodeGssEncRequest())).toEqual({ kind: 'gssenc' });
  });

  it('round-trips a StartupMessage with UTF-8 parameters', () => {
    const params = { user: 'ålice', database: 'db', application_name: 'psql', options: '-c x=1' };
    const p = roundTrip(encodeStartupMessage(params));
    expect(p.kind).toBe('startup');
    if (p.kind !== 'startup') return;
    expect(p.protocolVersion).toBe(STARTUP_CODE.Protocol30);
    expect({ ...p.params }).toEqual(params);
    expect(protocolNegotiation(p)).toBeNull();
  });

  it('keeps "__proto__" as a plain parameter', () => {
    const p = decodeStartupPacket(body(196608, '__proto__\0x\0user\0u\0\0'));
    if (p.kind !== 'startup') throw new Error('expected startup');
    expect(p.params['__proto__']).toBe('x');
    expect(({} as Record<string, unknown>)['x']).toBeUndefined();
  });


  it('round-trips CancelRequest with 4-byte and 3.2-length keys', () => {
    for (const key of [Buffer.from([1, 2, 3, 4]), Buffer.alloc(32, 9)]) {
      const c = encodeCancelRequest(4242, key);
      expect(roundTrip(c)).toEqual({ kind: 'cancel', processId: 4242, secretKey: key });
    }
    expect(encodeCancelRequest(1, Buffer.alloc(4)).length).toBe(16);
  });

  it('reports unknown codes and other protocol majors as unknown', () => {
    expect(decodeStartupPacket(body(131072, 'user\0u\0\0'))).toEqual({ kind: 'unknown', code: 131072 });
    expect(decodeStartupPacket(body(12345))).toEqual({ kind: 'unknown', code: 12345 });
  });

  it('rejects malformed packets with WireError', () => {
    const bad = [
      Buffer.alloc(0),
      Buffer.from([0, 3]),
      body(196608), // no terminator at all
      body(196608, 'user\0u\0'), // missing final NUL
      body(196608, 'user\0'), // key without value
      body(196608, 'user\0u'), // unterminated value
      body(196608, 'user\0u\0\0extra'), // trailing bytes
      body(STARTUP_CODE.CancelRequest, 1), // no key
      body(STARTUP_CODE.CancelRequest, 1, 'abc'), // key too short
      Buffer.concat([body(STARTUP_CODE.CancelRequest, 1), Buffer.alloc(257)]), // key too long
      body(STARTUP_CODE.SslRequest, 1),
    ];
    for (const b of bad) expect(() => decodeStartupPacket(b), b.toString('hex')).toThrow(WireError);
  });

  it('never throws anything but WireError on garbage', () => {
    expectGarbageSafe(decodeStartupPacket);
    const withCode = (code: number) => (b: Buffer) => decodeStartupPacket(Buffer.concat([body(code), b]));
    expectGarbageSafe(withCode(196608));
    expectGarbageSafe(withCode(196610));
    expectGarbageSafe(withCode(STARTUP_CODE.CancelRequest));
  });
});

describe('protocol negotiation', () => {
  it('asks for NegotiateProtocolVersion on minor > 0 or _pq_ options', () => {
    const p32 = decodeStartupPacket(body(196610, 'user\0u\0\0'));
    if (p32.kind !== 'startup') throw new Error('expected startup');
    expect(protocolNegotiation(p32)).toEqual({ minor: 0, unrecognizedOptions: [] });
    const opt = decodeStartupPacket(body(196608, 'user\0u\0_pq_.foo\0on\0\0'));
    if (opt.kind !== 'startup') throw new Error('expected startup');
    expect(protocolNegotiation(opt)).toEqual({ minor: 0, unrecognizedOptions: ['_pq_.foo'] });
  });

  it('round-trips NegotiateProtocolVersion', () => {
    const m = negotiateProtocolVersion(0, ['_pq_.a', '_pq_.b']);
    expect(m[0]).toBe(0x76);
    expect(m.readInt32BE(1)).toBe(m.length - 1);
    expect(decodeNegotiateProtocolVersion(m.subarray(5))).toEqual({ minor: 0, unrecognizedOptions: ['_pq_.a', '_pq_.b'] });
    expect(() => decodeNegotiateProtocolVersion(m.subarray(5, 12))).toThrow(WireError);
  });
});
