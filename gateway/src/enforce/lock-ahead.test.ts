import { describe, expect, it } from 'vitest';
import { lockAheadErrorFields, lockBlockSql } from './lock-ahead.ts';
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
});

describe('lockAheadErrorFields: the server error of the block, shown as the statement\'s', () => {
  it('keeps SQLSTATE, message and detail, drops what points into the block (context, internal query, positions)', () => {
    expect(lockAheadErrorFields({ S: 'ERROR', C: '42501', M: 'permission denied for table t', W: 'PL/pgSQL function inline_code_block line 1 at SQL statement', q: 'LOCK TABLE x', p: '3', P: '9' })).toEqual({
      S: 'ERROR',
      C: '42501',
      M: 'permission denied for table t',
    });
  });
});
