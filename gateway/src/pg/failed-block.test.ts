import { describe, expect, it } from 'vitest';
import { FailedBlock } from './failed-block.ts';

describe('FailedBlock', () => {
  it('is certain from a ReadyForQuery saying E until the next ReadyForQuery says otherwise', () => {
    const b = new FailedBlock();
    expect(b.certainlyFailed).toBe(false);
    expect(b.ready('E')).toBe('E');
    expect(b.certainlyFailed).toBe(true);
    b.ready('T');
    expect(b.certainlyFailed).toBe(false);
    b.ready('E');
    b.ready('I');
    expect(b.certainlyFailed).toBe(false);
  });

  it('is no longer certain once an Execute completed (a ROLLBACK or COMMIT may have ended the block)', () => {
    const b = new FailedBlock();
    b.ready('E');
    b.executed();
    expect(b.certainlyFailed).toBe(false);
    b.ready('E');
    expect(b.certainlyFailed).toBe(true);
  });
});
