// The login's closing messages: exactly what encoding each message anew gives, also after the
// parameters changed in value, in order or in number.

import { describe, expect, it } from 'vitest';
import { authenticationOk, backendKeyData, parameterStatus, readyForQuery } from '../wire/backend.ts';
import { LoginHello } from './login-hello.ts';

function fresh(parameters: Map<string, string>, pid: number, key: Buffer): Buffer {
  return Buffer.concat([authenticationOk(), ...[...parameters].map(([n, v]) => parameterStatus(n, v)), backendKeyData(pid, key), readyForQuery('I')]);
}

describe('LoginHello', () => {
  it('matches fresh encoding for each login, whatever changed since the last one', () => {
    const hello = new LoginHello();
    const key = Buffer.from([1, 2, 3, 4]);
    const cases = [
      new Map([['DateStyle', 'ISO, MDY'], ['client_encoding', 'UTF8']]),
      new Map([['DateStyle', 'ISO, MDY'], ['client_encoding', 'UTF8']]),
      new Map([['DateStyle', 'German, DMY'], ['client_encoding', 'UTF8']]),
      new Map([['client_encoding', 'UTF8'], ['DateStyle', 'German, DMY']]),
      new Map([['client_encoding', 'UTF8']]),
      new Map([['client_encoding', 'UTF8'], ['application_name', 'gatehouse:x']]),
      new Map<string, string>(),
    ];
    cases.forEach((parameters, i) => {
      const k = Buffer.from(key.map((b) => b + i));
      expect(hello.encode(parameters, 100 + i, k).equals(fresh(parameters, 100 + i, k))).toBe(true);
    });
  });
});
