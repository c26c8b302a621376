import { afterEach, describe, expect, it, vi } from 'vitest';
import { recordTime } from './record-time.ts';

afterEach(() => {
  vi.useRealTimers();
});

describe('recordTime', () => {
  it('is the ISO string of the current millisecond, and follows the clock from one to the next', () => {
    vi.useFakeTimers();
    vi.setSystemTime(Date.UTC(2026, 11, 7, 15, 0, 0, 123));
    expect(recordTime()).toBe('2026-12-07T15:00:00.123Z');
    expect(recordTime()).toBe(new Date().toISOString());
    vi.setSystemTime(Date.UTC(2026, 11, 7, 15, 0, 0, 124));
    expect(recordTime()).toBe('2026-12-07T15:00:00.124Z');
    vi.setSystemTime(Date.UTC(2026, 11, 7, 14, 59, 59, 999)); // a clock set back
    expect(recordTime()).toBe('2026-12-07T14:59:59.999Z');
  });

  it('matches new Date().toISOString() on the real clock', () => {
    for (let i = 0; i < 1000; i++) {
      const before = Date.now();
      const t = Date.parse(recordTime());
      expect(t).toBeGreaterThanOrEqual(before);
      expect(t).toBeLessThanOrEqual(Date.now());
    }
  });
});
