import { describe, expect, it } from 'vitest';
import type { LockPrefix } from '../enforce/lock-prefix.ts';
import { LockStatements, MAX_LOCK_STATEMENTS } from './lock-statements.ts';

const prefix = (table: string): LockPrefix => {
  const text = `LOCK TABLE "public"."${table}" IN ACCESS SHARE MODE NOWAIT; `;
  return { text, statements: 1, chars: text.length, relations: [`public.${table}`] };
};
/** The message types of a use, as letters. */
const types = (ms: readonly Buffer[]): string => ms.map((m) => String.fromCharCode(m[0]!)).join('');

describe('LockStatements: one prepared DO block per relation set and session', () => {
  it('parses a block until the server answered its Parse, then only binds, runs it and closes its portal', () => {
    const blocks = new LockStatements('gh_lock');
    const first = blocks.use(prefix('a'));
    expect(types(first.messages)).toBe('CPBEC');
    expect(first.answers).toBe(5);
    expect(types(blocks.use(prefix('a')).messages)).toBe('CPBEC'); // not answered yet: parsed again
    first.parsed!(); // an earlier Parse's answer: the later Close may undo it
    expect(types(blocks.use(prefix('a')).messages)).toBe('CPBEC');
    const latest = blocks.use(prefix('a'));
    latest.parsed!();
    const run = blocks.use(prefix('a'));
    expect(types(run.messages)).toBe('BEC');
    expect(run.answers).toBe(3);
    expect(run.parsed).toBeNull();
    expect(types(blocks.use(prefix('b')).messages)).toBe('CPBEC'); // another relation set, another statement
  });

  it('parses again after forget (a DEALLOCATE or DISCARD went up) or a use that found its statement gone', () => {
    const blocks = new LockStatements('gh_lock');
    blocks.use(prefix('a')).parsed!();
    blocks.forget();
    const again = blocks.use(prefix('a'));
    expect(types(again.messages)).toBe('CPBEC');
    again.parsed!();
    blocks.use(prefix('a')).lost!();
    expect(types(blocks.use(prefix('a')).messages)).toBe('CPBEC');
  });

  it('gives relation sets beyond the limit the one-shot block (parsed, run and closed every time)', () => {
    const blocks = new LockStatements('gh_lock');
    for (let i = 0; i < MAX_LOCK_STATEMENTS; i++) blocks.use(prefix(`t${i}`)).parsed!();
    const over = blocks.use(prefix('over'));
    expect(types(over.messages)).toBe('CPBECC');
    expect(over.parsed).toBeNull();
  });
});
