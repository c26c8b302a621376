// Cross-checks against node-postgres' pg-protocol: its serializer feeds our frontend decoder, its parser reads our backend encoders.

import { serialize } from 'pg-protocol';
import { Parser } from 'pg-protocol/dist/parser.js';
import { describe, expect, it } from 'vitest';
import {
  authenticationOk,
  backendKeyData,
  commandComplete,
  dataRow,
  errorResponse,
  parameterStatus,
  readyForQuery,
  rowDescription,
} from './backend.ts';
import { MessageFramer } from './framer.ts';
import { decodeFrontend, type FrontendMessage } from './frontend.ts';
import { decodeStartupPacket } from './startup.ts';

function decodeAll(stream: Buffer): FrontendMessage[] {
  const f = new MessageFramer(1 << 20);
  f.push(stream);
  const out: FrontendMessage[] = [];
  for (let fr = f.next(); fr !== null; fr = f.next()) out.push(decodeFrontend(fr));
  expect(f.buffered).toBe(0);
  return out;
}

describe('interop with pg-protocol', () => {
  it('decodes what pg-protocol serializes', () => {
    const stream = Buffer.concat([
      serialize.parse({ name: 's', text: 'select $1::int', types: [23] }),
      serialize.bind({ statement: 's', portal: 'p', values: ['7', null] }),
      serialize.describe({ type: 'P', name: 'p' }),
      serialize.execute({ portal: 'p', rows: 5 }),
      serialize.close({ type: 'S', name: 's' }),
      serialize.sync(),
      serialize.query('select 1'),
      serialize.password('secret'),
      serialize.flush(),
      serialize.copyData(Buffer.from('a\n')),
      serialize.copyDone(),
      serialize.copyFail('nope'),
      serialize.end(),
    ]);
    expect(decodeAll(stream)).toEqual([
      { type: 'parse', name: 's', sql: 'select $1::int', paramTypes: [23] },
      { type: 'bind', portal: 'p', statement: 's', paramFormats: [0, 0], params: [Buffer.from('7'), null], resultFormats: [0] },
      { type: 'describe', target: 'P', name: 'p' },
      { type: 'execute', portal: 'p', maxRows: 5 },
      { type: 'close', target: 'S', name: 's' },
      { type: 'sync' },
      { type: 'query', sql: 'select 1' },
      { type: 'password', password: 'secret' },
      { type: 'flush' },
      { type: 'copyData', data: Buffer.from('a\n') },
      { type: 'copyDone' },
      { type: 'copyFail', message: 'nope' },
      { type: 'terminate' },
    ]);
    const startup = serialize.startup({ user: 'u', database: 'd' });
    expect(decodeStartupPacket(startup.subarray(4))).toMatchObject({ kind: 'startup', params: { user: 'u', database: 'd' } });
    expect(decodeStartupPacket(serialize.cancel(77, 1234).subarray(4))).toMatchObject({ kind: 'cancel', processId: 77 });
  });

  it('produces backend messages pg-protocol parses', () => {
    const stream = Buffer.concat([
      authenticationOk(),
      parameterStatus('server_version', '15.20'),
      backendKeyData(42, Buffer.from([0, 0, 0, 9])),
      readyForQuery('I'),
      rowDescription([{ name: 'a', tableOid: 1, columnAttr: 2, typeOid: 25, typeSize: -1, typeMod: -1, format: 0 }]),
      dataRow([Buffer.from('x'), null]),
      commandComplete('SELECT 1'),
      errorResponse({ severity: 'ERROR', sqlstate: '42501', message: 'denied', hint: 'ask' }),
    ]);
    const seen: Record<string, unknown>[] = [];
    new Parser().parse(stream, (m) => seen.push(m as unknown as Record<string, unknown>));
    expect(seen.map((m) => m['name'])).toEqual([
      'authenticationOk',
      'parameterStatus',
      'backendKeyData',
      'readyForQuery',
      'rowDescription',
      'dataRow',
      'commandComplete',
      'error',
    ]);
    expect(seen[1]).toMatchObject({ parameterName: 'server_version', parameterValue: '15.20' });
    expect(seen[2]).toMatchObject({ processID: 42, secretKey: 9 });
    expect(seen[4]).toMatchObject({ fields: [{ name: 'a', tableID: 1, columnID: 2, dataTypeID: 25 }] });
    expect(seen[5]).toMatchObject({ fields: ['x', null] });
    expect(seen[7]).toMatchObject({ code: '42501', message: 'denied', hint: 'ask' });
  });
});
