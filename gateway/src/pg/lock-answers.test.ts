import { describe, expect, it } from 'vitest';
import { isGatehouseError } from '../errors.ts';
import type { LockPrefix } from '../enforce/lock-prefix.ts';
import { BE } from '../wire/message-types.ts';
import type { Frame } from '../wire/framer.ts';
import { lockAheadAnswered } from './lock-answers.ts';
import { PendingQueue, type Pending } from './pending.ts';

const PREFIX: LockPrefix = { text: 'LOCK TABLE public.t IN ACCESS SHARE MODE NOWAIT; ', statements: 1, chars: 49, relations: ['public.t'] };

/** A backend message as the framer gives it. */
function frame(type: number, body: Buffer = Buffer.alloc(0)): Frame {
  const raw = Buffer.alloc(5 + body.length);
  raw[0] = type;
  raw.writeInt32BE(4 + body.length, 1);
  body.copy(raw, 5);
  return { type, body, raw };
}
const complete = (tag: string): Frame => frame(BE.CommandComplete, Buffer.from(`${tag}\0`));

describe('lockAheadAnswered', () => {
  const entry = (lost: () => void): Extract<Pending, { kind: 'lock-ahead' }> => ({ kind: 'lock-ahead', prefix: PREFIX, ctx: null, sql: 'SELECT 1 FROM t', left: 3, parsed: null, lost });

  it('counts the answers of the real block (tag DO) and ends the entry with the last', () => {
    const pending = new PendingQueue();
    let lost = 0;
    const head = entry(() => void lost++);
    pending.push(head);
    for (const f of [frame(BE.BindComplete), complete('DO'), frame(BE.CloseComplete)]) lockAheadAnswered(pending, head, f);
    expect(pending.peek()).toBeUndefined();
    expect(lost).toBe(0);
  });

  it("ends the session when the block's Execute answers another tag: its prepared statement was replaced by the session's own (red-team round 19a, R19a-1)", () => {
    const pending = new PendingQueue();
    let lost = 0;
    const head = entry(() => void lost++);
    pending.push(head);
    lockAheadAnswered(pending, head, frame(BE.BindComplete));
    let thrown: unknown = null;
    try {
      lockAheadAnswered(pending, head, complete('SELECT 0'));
    } catch (e) {
      thrown = e;
    }
    expect(isGatehouseError(thrown) && thrown.code).toBe('PROTOCOL_VIOLATION');
    expect(lost).toBe(1); // parsed again (Close first) at the next use, should the session go on
  });
});
