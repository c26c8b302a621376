import { describe, expect, it } from 'vitest';
import { withoutValueDetail } from './value-detail.ts';

const SSN = '900-12-3456';

describe('withoutValueDetail', () => {
  it('replaces the detail and drops the hint, context and internal query of an error of a write to a masked table, keeping the rest', () => {
    const fields = {
      S: 'ERROR',
      C: '23P01',
      M: 'conflicting key value violates exclusion constraint "rooms_excl"',
      D: `Key (room)=(${SSN}) conflicts with existing key (room)=(${SSN}).`,
      H: SSN,
      W: `SQL statement "INSERT ... '${SSN}'"`,
      q: `INSERT INTO t VALUES ('${SSN}')`,
      p: '3',
      n: 'rooms_excl',
      t: 'rooms',
    };
    const { W: _context, ...builtIn } = fields;
    const out = withoutValueDetail(builtIn)!;
    expect(JSON.stringify(out)).not.toContain(SSN);
    expect(out['D']).toContain('Gatehouse withheld the detail');
    expect(out).toMatchObject({ S: 'ERROR', C: '23P01', M: fields.M, n: 'rooms_excl', t: 'rooms' });
    expect(withoutValueDetail({ S: 'ERROR', C: '23505', M: 'm' })).toBeNull();
  });

  it('replaces the message of an error raised in routine code (a context says so) and of every notice (R10-4)', () => {
    const raised = withoutValueDetail({ S: 'ERROR', C: 'P0001', M: `refused row ${SSN}`, W: 'PL/pgSQL function f() line 3 at RAISE' })!;
    expect(JSON.stringify(raised)).not.toContain(SSN);
    expect(raised).toMatchObject({ C: 'P0001', M: expect.stringContaining('Gatehouse withheld the message') });
    const notice = withoutValueDetail({ S: 'NOTICE', C: '00000', M: `saw ${SSN}` }, true)!;
    expect(JSON.stringify(notice)).not.toContain(SSN);
  });

  it('replaces a built-in message in an error of a write Gatehouse checks after it ran (R20a-4), keeping the SQLSTATE', () => {
    const cast = { S: 'ERROR', C: '22P02', M: `invalid input syntax for type integer: "${SSN}"` };
    expect(withoutValueDetail(cast)).toBeNull(); // a built-in message is kept otherwise
    const out = withoutValueDetail(cast, false, true)!;
    expect(JSON.stringify(out)).not.toContain(SSN);
    expect(out).toMatchObject({ C: '22P02', M: expect.stringContaining('checks only after it ran') });
  });
});
