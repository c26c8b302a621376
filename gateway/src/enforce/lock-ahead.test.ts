import { describe, expect, it } from 'vitest';
import { lockBlockSql, lockFailedFields } from './lock-ahead.ts';
import type { LockPrefix } from './lock-prefix.ts';

const prefix = (text: string): LockPrefix => ({ text, statements: 1, chars: [...text].length, relations: ['public.t'] });

describe('lockBlockSql: the prefix as a DO block (enforce/lock-ahead.ts)', () => {
  it('wraps the LOCK statements in a dollar-quoted PL/pgSQL block', () => {
    expect(lockBlockSql(prefix('LOCK TABLE "public"."t" IN ACCESS SHARE MODE NOWAIT; '))).toBe('DO $gatehouse$BEGIN LOCK TABLE "public"."t" IN ACCESS SHARE MODE NOWAIT; END$gatehouse$');
  });

  it('picks a tag that a quoted relation name does not hold, so no name can end the block', () => {
    const sql = lockBlockSql(prefix('LOCK TABLE "public"."$gatehouse$x$gatehouse0$" IN ACCESS SHARE MODE NOWAIT; '));
    expect(sql.startsWith('DO $gatehouse1$BEGIN ')).toBe(true);
    expect(sql.endsWith('END$gatehouse1$')).toBe(true);
  });

  it('for a write released after its approval, tries the NOWAIT locks again on 55P03, a bounded number of times, then raises it', () => {
    const sql = lockBlockSql(prefix('LOCK TABLE "public"."t" IN ROW EXCLUSIVE MODE NOWAIT; '), true);
    expect(sql).toBe(
      'DO $gatehouse$DECLARE tries integer := 0; BEGIN LOOP BEGIN LOCK TABLE "public"."t" IN ROW EXCLUSIVE MODE NOWAIT; EXIT; ' +
        'EXCEPTION WHEN lock_not_available THEN tries := tries + 1; IF tries >= 40 THEN RAISE; END IF; PERFORM pg_catalog.pg_sleep(0.05); END; END LOOP; END$gatehouse$',
    );
  });
});

describe('lockFailedFields: a LOCK of Gatehouse\'s that failed says so', () => {
  const p = prefix('LOCK TABLE "public"."t" IN ACCESS SHARE MODE NOWAIT; ');
  it('keeps SQLSTATE and message, drops what points into Gatehouse\'s text, says it was its LOCK and why it may have failed', () => {
    const out = lockFailedFields({ S: 'ERROR', C: '42501', M: 'permission denied for table t', W: 'PL/pgSQL function inline_code_block line 1 at SQL statement', q: 'LOCK TABLE x', p: '3', P: '9' }, p);
    expect(Object.keys(out).sort()).toEqual(['C', 'D', 'H', 'M', 'S']);
    expect(out).toMatchObject({ C: '42501', M: 'permission denied for table t' });
    expect(out['D']).toMatch(/^Gatehouse locks public\.t \(LOCK TABLE \.\.\. NOWAIT\) before the statements that use them run/);
    expect(out['H']).toMatch(/may not lock the table/);
    expect(lockFailedFields({ C: '42P01', M: 'relation "public.t" does not exist', P: '12' }, p)['H']).toMatch(/dropped or renamed/);
  });

  it('in a failed transaction (25P02) the fields are the statement\'s own, without a position into the prefix', () => {
    expect(lockFailedFields({ S: 'ERROR', C: '25P02', M: 'current transaction is aborted, commands ignored until end of transaction block', P: '3' }, p)).toEqual({
      S: 'ERROR',
      C: '25P02',
      M: 'current transaction is aborted, commands ignored until end of transaction block',
    });
  });
});
