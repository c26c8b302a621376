// The hostile client of the isolation harness: one identity, one connection per kind of message, sending the
// messages that stalled or crashed Gatehouse for everyone (issue 11), over and over while the
// well-behaved sessions are measured. What each got back is recorded; none of it is an error of
// the harness (refusing them is fine, so is running them), only their effect on others is judged.

import type pg from 'pg';

export type HostileAction = 'many-statements' | 'big-literal' | 'slow-policy';

export const HOSTILE_ACTIONS: readonly HostileAction[] = ['many-statements', 'big-literal', 'slow-policy'];

/** The function name the bench's slow policy rule looks for (bench/slow-policy.ts). */
export const SLOW_POLICY_MARKER = 'gatehouse_bench_slow_policy';

export interface HostileTally {
  action: HostileAction;
  sent: number;
  /** Outcome ("ok", "42501", "54000", "connection lost", ...) → count. */
  outcomes: Record<string, number>;
  maxMs: number;
}

/** The text of one hostile simple Query. */
export function hostileText(action: HostileAction): string {
  switch (action) {
    case 'many-statements':
      return 'SELECT 1;'.repeat(40_000); // 40,000 statements, 360 KB, one Query message
    case 'big-literal':
      return `SELECT length('${'x'.repeat(10 * 1024 * 1024)}')`; // a 10 MiB literal
    case 'slow-policy':
      return `SELECT ${SLOW_POLICY_MARKER}()`; // a function the slow rule looks for (it need not exist)
    default: {
      const never: never = action;
      throw new Error(`unknown hostile action ${String(never)}`);
    }
  }
}

function outcomeOf(e: unknown): string {
  if (typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string') return e.code;
  return 'connection lost';
}

/**
 * Sends every action over and over until `running()` turns false, each action in its own loop on
 * fresh connections, all at once (so that one that stalls does not keep the others from being sent).
 */
export async function runHostile(options: {
  actions: readonly HostileAction[];
  connect: () => Promise<pg.Client>;
  running: () => boolean;
  pauseMs: number;
}): Promise<HostileTally[]> {
  const loop = async (action: HostileAction): Promise<HostileTally> => {
    const tally: HostileTally = { action, sent: 0, outcomes: {}, maxMs: 0 };
    const text = hostileText(action);
    while (options.running()) {
      let outcome = 'ok';
      const started = performance.now();
      let client: pg.Client | null = null;
      try {
        client = await options.connect();
        await client.query(text);
      } catch (e) {
        outcome = client === null ? 'could not connect' : outcomeOf(e);
      }
      tally.maxMs = Math.max(tally.maxMs, performance.now() - started);
      tally.sent++;
      tally.outcomes[outcome] = (tally.outcomes[outcome] ?? 0) + 1;
      await client?.end().catch(() => undefined);
      await new Promise((r) => setTimeout(r, options.pauseMs));
    }
    return tally;
  };
  return Promise.all(options.actions.map(loop));
}
