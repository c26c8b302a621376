import { describe, expect, it } from 'vitest';
import { encodeQuery } from '../wire/frontend.ts';
import { newResultContext } from './pending.ts';
import { pinCheckSql, withPinCheck } from './pin-check.ts';

const PIN = { relation: 16384, trigger: "it's", function: 'public.f', digest: 'sha256:ab', version: '731' };

describe('withPinCheck', () => {
  it('leaves a Query without pins as it is', () => {
    const q = encodeQuery('UPDATE t SET a = 1');
    const ctx = newResultContext([], []);
    expect(withPinCheck(q, ctx, undefined)).toBe(q);
    expect(ctx.pinCheck).toBeUndefined();
  });

  it('appends the check after a newline (the text may end in a -- comment), arms the context and frames the message', () => {
    const ctx = newResultContext([], []);
    const out = withPinCheck(encodeQuery('UPDATE t SET a = 1 -- note'), ctx, [PIN]);
    expect(out.equals(encodeQuery(`UPDATE t SET a = 1 -- note\n;${pinCheckSql([PIN])}`))).toBe(true);
    expect(ctx.pinCheck?.state).toBe('armed');
  });

  it('quotes names as literals and picks a dollar-quote tag the text does not hold', () => {
    expect(pinCheckSql([PIN])).toContain("'it''s'");
    const sql = pinCheckSql([{ ...PIN, trigger: '$gatehouse_pin$' }]);
    expect(sql.startsWith('DO $gatehouse_pin0$')).toBe(true);
    expect(sql.endsWith('$gatehouse_pin0$')).toBe(true);
  });

  it("compares the function's pg_proc row version, and fails when it was not read (R19b-1)", () => {
    expect(pinCheckSql([PIN])).toContain("'sha256:ab', '731'::pg_catalog.text)");
    expect(pinCheckSql([PIN])).toContain('p.xmin::text IS DISTINCT FROM w.version');
    expect(pinCheckSql([{ ...PIN, version: null }])).toContain("'sha256:ab', NULL::pg_catalog.text)");
  });

  it('parses its query under pg_catalog first, not the writer\'s search_path, and puts the path back (R20a-5)', () => {
    const sql = pinCheckSql([PIN]);
    const set = sql.indexOf("PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true)");
    expect(set).toBeGreaterThan(0);
    expect(set).toBeLessThan(sql.indexOf('IF EXISTS'));
    expect(sql.indexOf("set_config('search_path', gatehouse_path, true)")).toBeGreaterThan(sql.indexOf('END IF'));
  });
});
