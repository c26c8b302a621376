import { describe, expect, it } from 'vitest';
import { decodeErrorFields, parameterStatus } from '../wire/backend.ts';
import { BE } from '../wire/message-types.ts';
import { parameterStatusAllowed, type GuardedSession } from './parameter-status-guard.ts';

function frame(name: string, value: string) {
  const raw = parameterStatus(name, value);
  return { type: BE.ParameterStatus, body: raw.subarray(5), raw };
}

function fakeSession(): GuardedSession & { emitted: Buffer[]; closed: { why: string; problem: boolean | undefined } | null } {
  const s = {
    emitted: [] as Buffer[],
    closed: null as { why: string; problem: boolean | undefined } | null,
    emit: (m: Buffer) => void s.emitted.push(m),
    close: (why: string, problem?: boolean) => void (s.closed = { why, problem }),
  };
  return s;
}

describe('parameterStatusAllowed', () => {
  it('relays safe values and parameters it does not guard', () => {
    for (const [name, value] of [['client_encoding', 'LATIN1'], ['standard_conforming_strings', 'on'], ['search_path', 'x'], ['application_name', 'SJIS']]) {
      const s = fakeSession();
      expect(parameterStatusAllowed(s, frame(name!, value!)), name).toBe(true);
      expect([s.emitted, s.closed]).toEqual([[], null]);
    }
  });

  it.each([
    ['standard_conforming_strings', 'off'],
    ['client_encoding', 'SJIS'],
    ['client_encoding', 'GB18030'],
    ['client_encoding', 'something new'],
  ])('ends the session with FATAL 22023 when the database reports %s = %s', (name, value) => {
    const s = fakeSession();
    expect(parameterStatusAllowed(s, frame(name, value))).toBe(false);
    expect(s.emitted).toHaveLength(1);
    const fields = decodeErrorFields(s.emitted[0]!.subarray(5));
    expect([fields['S'], fields['C']]).toEqual(['FATAL', '22023']);
    expect(s.closed?.problem).toBe(true);
    expect(s.closed?.why).toContain(name);
  });
});
