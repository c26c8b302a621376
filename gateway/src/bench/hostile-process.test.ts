import { describe, expect, inject, it } from 'vitest';
import { startHostileProcess } from './hostile-process.ts';

describe('the hostile client in its own process', () => {
  it('sends its messages from a forked process and reports their outcomes back', async () => {
    const url = new URL(inject('pgUrl'));
    const hostile = await startHostileProcess();
    try {
      // Straight to PostgreSQL: the slow-policy statement calls a function that does not exist there
      // (42883; only the bench's slow rule looks for its name), many-statements runs.
      const tallies = await hostile.run({
        actions: ['slow-policy', 'many-statements'],
        client: { host: url.hostname, port: Number(url.port || 5432), user: decodeURIComponent(url.username) || 'postgres', database: 'postgres' },
        seconds: 1,
        pauseMs: 50,
      });
      expect(tallies.map((t) => t.action)).toEqual(['slow-policy', 'many-statements']);
      for (const t of tallies) expect(t.sent).toBeGreaterThan(0);
      const [slow, many] = tallies;
      expect(slow!.outcomes).toEqual({ '42883': slow!.sent });
      expect(many!.outcomes).toEqual({ ok: many!.sent });
    } finally {
      hostile.stop();
    }
  });

  it('reports a connection it could not make as an outcome, not a failure of the run', async () => {
    const hostile = await startHostileProcess();
    try {
      const [tally] = await hostile.run({ actions: ['slow-policy'], client: { host: '127.0.0.1', port: 1, user: 'nobody', database: 'x' }, seconds: 0.2, pauseMs: 10 });
      expect(tally!.sent).toBeGreaterThan(0);
      expect(tally!.outcomes['could not connect']).toBe(tally!.sent);
    } finally {
      hostile.stop();
    }
  });
});
