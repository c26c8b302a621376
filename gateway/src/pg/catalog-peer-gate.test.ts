import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PeerNotificationGate, type PeerSender } from './catalog-peer-gate.ts';

const PEER = 7;
const FLOODER = 9;

/** A gate over a scripted pg_stat_activity, under fake timers (the clock moves only when the test says). */
function harness() {
  const counts = { changes: 0, background: 0, lookups: 0 };
  const logs: string[] = [];
  const rows: PeerSender[] = [
    { pid: PEER, role: 'gatehouse', applicationName: 'gatehouse-catalog:peers', peer: true },
    { pid: FLOODER, role: 'mallory', applicationName: 'gatehouse-catalog:peers', peer: false },
  ];
  const gate = new PeerNotificationGate({
    budget: { burst: 3, perSecond: 2, backgroundEveryMs: 1000 },
    senders: async (pids) => {
      counts.lookups++;
      return rows.filter((r) => r.peer || pids.includes(r.pid));
    },
    change: () => counts.changes++,
    background: () => counts.background++,
    log: (m) => logs.push(m),
  });
  return { gate, counts, logs, settle: () => vi.advanceTimersByTimeAsync(0), advance: (ms: number) => vi.advanceTimersByTimeAsync(ms) };
}

describe('PeerNotificationGate', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it('waits for notifications within the budget, then refreshes in the background and logs once, naming the sender', async () => {
    const h = harness();
    for (let i = 0; i < 3; i++) expect(h.gate.notified(FLOODER)).toBe('change');
    expect(h.gate.notified(FLOODER)).toBe('pending');
    await h.settle();
    for (let i = 0; i < 100; i++) expect(h.gate.notified(FLOODER)).toBe('background');
    // One background read at once, one owed for the notifications after it.
    expect(h.counts).toEqual({ changes: 3, background: 1, lookups: 1 });
    expect(h.gate.flooded()).toBe(true);
    expect(h.logs).toHaveLength(1);
    expect(h.logs[0]).toContain('pid 9, role "mallory"');
    // One second of flood: two more waited for, the rest in the background, whose owed read is made.
    await h.advance(1000);
    expect(h.counts.background).toBe(2);
    const notices = Array.from({ length: 50 }, () => h.gate.notified(FLOODER));
    expect(notices.filter((n) => n === 'change')).toHaveLength(2);
    expect(h.logs).toHaveLength(1);
    // The flood's last notification is followed by a background read (a change made directly on the server then is read).
    await h.advance(1000);
    expect(h.counts.background).toBe(3);
    await h.advance(5000);
    expect(h.counts.background).toBe(3);
    h.gate.close();
  });

  it("a Gatehouse instance's notification is waited for in the middle of a flood", async () => {
    const h = harness();
    for (let i = 0; i < 4; i++) h.gate.notified(FLOODER);
    await h.settle();
    // The flood's first lookup also read the peers' connections.
    expect(h.gate.notified(PEER)).toBe('change');
    expect(h.gate.notified(FLOODER)).toBe('background');
    expect(h.counts.changes).toBe(4);
    h.gate.close();
  });

  it('a peer not yet known when the flood is on is waited for once its backend has been read', async () => {
    const h = harness();
    for (let i = 0; i < 3; i++) h.gate.notified(FLOODER);
    expect(h.gate.notified(PEER)).toBe('pending'); // over the budget, sender unknown: refreshed in the background meanwhile
    expect(h.counts.changes).toBe(3);
    await h.settle();
    expect(h.counts.changes).toBe(4);
    h.gate.close();
  });

  it('the flood ends once the bucket is full again: pids are read again and the log says so', async () => {
    const h = harness();
    for (let i = 0; i < 5; i++) h.gate.notified(FLOODER);
    await h.settle();
    await h.advance(1500);
    expect(h.gate.notified(FLOODER)).toBe('change');
    expect(h.gate.flooded()).toBe(false);
    expect(h.logs).toHaveLength(2);
    h.gate.close();
  });
});
