import { describe, expect, it } from 'vitest';
import { DurabilityLedger, type Flush } from './durability-ledger.ts';

/** A ledger over `appended` batches, with the answers its waiters got, in order. */
function ledgerOf(appended: { n: number }): {
  ledger: DurabilityLedger;
  answers: string[];
  waitFor: (upTo: number, name: string) => boolean;
  succeed: (flush: Flush) => void;
} {
  const ledger = new DurabilityLedger(() => appended.n);
  const answers: string[] = [];
  const waitFor = (upTo: number, name: string): boolean => ledger.wait(upTo, (e) => answers.push(`${name}:${e === null ? 'durable' : e.message}`));
  const succeed = (flush: Flush): void => {
    ledger.end(flush);
    ledger.succeeded(flush);
  };
  return { ledger, answers, waitFor, succeed };
}

describe('DurabilityLedger', () => {
  it('a flush that completes first confirms the waiters of an earlier flush still running', () => {
    const appended = { n: 1 };
    const { ledger, answers, waitFor, succeed } = ledgerOf(appended);
    expect(waitFor(1, 'a')).toBe(true);
    expect(ledger.uncovered()).toBe(true);
    const first = ledger.begin(1);
    expect(ledger.uncovered()).toBe(false);
    appended.n = 2;
    waitFor(2, 'b');
    const second = ledger.begin(2);
    succeed(second);
    expect(answers).toEqual(['a:durable', 'b:durable']);
    expect(ledger.synced).toBe(2);
    succeed(first);
    expect(ledger.flushing).toBe(false);
    expect(waitFor(2, 'c')).toBe(false); // answered at once: already durable
    expect(answers.at(-1)).toBe('c:durable');
  });

  it('after a failed flush, a flush that began before it confirms nothing, and the batches it tainted stay failed', () => {
    const appended = { n: 2 };
    const { ledger, answers, waitFor, succeed } = ledgerOf(appended);
    waitFor(1, 'a');
    const early = ledger.begin(1);
    waitFor(2, 'b');
    const failing = ledger.begin(2);
    ledger.end(failing);
    ledger.failed(new Error('EIO'));
    expect(answers).toEqual(['a:EIO', 'b:EIO']);
    succeed(early);
    expect(ledger.synced).toBe(0);
    expect(waitFor(2, 'c')).toBe(false);
    expect(answers.at(-1)).toBe('c:EIO');
    appended.n = 3;
    expect(waitFor(3, 'd')).toBe(true); // a batch after the failure waits for a flush of its own
    const later = ledger.begin(3);
    succeed(later);
    expect(answers.at(-1)).toBe('d:durable');
  });

  it('a syncNow while flushes run is answered only once each of them has succeeded', () => {
    const appended = { n: 2 };
    const { ledger, answers, waitFor, succeed } = ledgerOf(appended);
    waitFor(1, 'a');
    const running = ledger.begin(1);
    waitFor(2, 'b');
    ledger.syncedNow(2);
    expect(answers).toEqual([]);
    succeed(running);
    expect(answers).toEqual(['a:durable', 'b:durable']);
  });
});
