import { describe, expect, it } from 'vitest';
import { decodeErrorFields } from '../wire/backend.ts';
import { BE } from '../wire/message-types.ts';
import { auditFlushFailedError, protocolViolation, shuttingDownMessage, upstreamLostMessage } from './session-fatal.ts';

const fields = (m: Buffer) => {
  expect(m[0]).toBe(BE.ErrorResponse);
  return decodeErrorFields(m.subarray(5));
};

describe('session FATAL errors', () => {
  it("carry PostgreSQL's SQLSTATE for the situation, FATAL, and say why", () => {
    expect(fields(protocolViolation('bad length'))).toMatchObject({ S: 'FATAL', C: '08P01', M: 'protocol violation: bad length' });
    expect(fields(upstreamLostMessage(new Error('ECONNRESET')))).toMatchObject({ S: 'FATAL', C: '08006', M: expect.stringContaining('ECONNRESET') });
    expect(fields(upstreamLostMessage(null))['M']).toBe('Gatehouse lost its connection to the database');
    expect(fields(shuttingDownMessage())).toMatchObject({ S: 'FATAL', C: '57P01', D: 'Gatehouse is shutting down.' });
  });

  it('an audit flush failure is FATAL 58030 and keeps its cause', () => {
    const cause = new Error('EIO');
    const e = auditFlushFailedError(cause);
    expect(e.sqlstate).toBe('58030');
    expect(e.severity).toBe('FATAL');
    expect(e.cause).toBe(cause);
  });
});
