import { describe, expect, it } from 'vitest';
import { HOSTILE_ACTIONS, hostileText, SLOW_POLICY_MARKER } from './hostile-client.ts';

describe('hostile messages', () => {
  it('are the ones issue 11 names: 40,000 statements in one Query, a 10 MiB literal, the slow rule\'s marker', () => {
    const many = hostileText('many-statements');
    expect(many.split(';').filter((s) => s.trim() !== '')).toHaveLength(40_000);
    const big = hostileText('big-literal');
    expect(big.length).toBeGreaterThan(10 * 1024 * 1024);
    expect(hostileText('slow-policy')).toContain(SLOW_POLICY_MARKER);
    expect(HOSTILE_ACTIONS).toHaveLength(3);
  });
});
