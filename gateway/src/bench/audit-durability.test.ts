import { describe, expect, it } from 'vitest';
import { discardingAuditSink, measureAuditDurability, renderAuditDurability, roundOrder, type AuditSetting } from './audit-durability.ts';

const ok = (tps: number) => ({ summary: { tps, latencyAverageMs: 8000 / tps, transactions: tps * 5, failedTransactions: 0, initialConnectionMs: 3 }, exitCode: 0, error: null });

describe('audit durability benchmark', () => {
  it('rotates the order of the settings from round to round', () => {
    expect([0, 1, 2, 3].map((r) => roundOrder(r))).toEqual([
      ['durable', 'unsynced', 'none'],
      ['unsynced', 'none', 'durable'],
      ['none', 'durable', 'unsynced'],
      ['durable', 'unsynced', 'none'],
    ]);
  });

  it('runs every setting each round, takes the median TPS, and gives the cost of durability against unsynced', async () => {
    const tps: Record<AuditSetting, number[]> = { durable: [900, 940, 700], unsynced: [1000, 1000, 1100], none: [1200, 1300, 1250] };
    const calls: string[] = [];
    const t = await measureAuditDurability({
      mode: 'prepared',
      seconds: 5,
      rounds: 3,
      run: async (setting, mode, seconds) => {
        calls.push(`${setting}:${mode}:${seconds}`);
        return ok(tps[setting].shift()!);
      },
    });
    expect(calls).toHaveLength(9);
    expect(calls.filter((c) => c === 'durable:prepared:5')).toHaveLength(3);
    expect(t.medianTps).toEqual({ durable: 900, unsynced: 1000, none: 1250, postgres: null, preallocated: null, appends: null });
    expect(t.preallocatedCost).toBeNull();
    expect(t.postgresVsDurable).toBeNull();
    expect(t.durableCost).toBeCloseTo(0.1, 10);
    const text = renderAuditDurability(t).join('\n');
    expect(text).toContain('| none | 1200, 1300, 1250 | 1250 |');
    expect(text).toContain('Durable costs 10.0% of unsynced throughput');
  });

  it('measures the PostgreSQL sink too when asked, against the durable file', async () => {
    const t = await measureAuditDurability({
      settings: ['durable', 'unsynced', 'none', 'postgres'],
      mode: 'prepared',
      seconds: 1,
      rounds: 2,
      run: async (setting) => ok({ durable: 1000, unsynced: 1050, none: 1100, postgres: 800 }[setting]),
    });
    expect(t.runs.map((r) => r.setting).slice(0, 4)).toEqual(['durable', 'unsynced', 'none', 'postgres']);
    expect(t.runs.map((r) => r.setting).slice(4)).toEqual(['unsynced', 'none', 'postgres', 'durable']);
    expect(t.postgresVsDurable).toBeCloseTo(0.8, 10);
    const text = renderAuditDurability(t).join('\n');
    expect(text).toContain('| PostgreSQL table (commit before forwarding) | 800, 800 | 800 |');
    expect(text).toContain("The PostgreSQL sink reaches 80% of the durable file sink's throughput.");
  });

  it('has no cost figure when a setting never produced numbers, and lists the failures', async () => {
    const t = await measureAuditDurability({
      mode: 'prepared',
      seconds: 1,
      rounds: 1,
      run: async (setting) => (setting === 'durable' ? { summary: null, exitCode: 2, error: 'pgbench: error: refused' } : ok(1000)),
    });
    expect(t.durableCost).toBeNull();
    const text = renderAuditDurability(t).join('\n');
    expect(text).toContain('failed (exit 2)');
    expect(text).toContain('- durable, round 1: `pgbench: error: refused`');
    expect(renderAuditDurability(null)).toEqual([]);
  });

  it('the baseline sink keeps nothing and never makes a statement wait', () => {
    const sink = discardingAuditSink();
    let answered: Error | null | undefined;
    sink.whenDurable((e) => (answered = e));
    expect(answered).toBeNull();
  });
});
