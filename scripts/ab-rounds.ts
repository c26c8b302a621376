// The measuring loop of the in-process A/B scripts (ab-record-path, ab-decide-extended, ab-forward-path):
// A's and B's code run in alternating order each round (A first in even rounds), warmed up, then timed by
// the process's CPU time, not wall time: on a shared machine the wall clock also counts waiting for a core.

export type Side = 'A' | 'B';

/** CPU microseconds per call of each side's `f`, one figure per round. */
export function alternatingRounds(runs: Record<Side, () => void>, rounds: number, n: number, warmUp: number): Record<Side, number[]> {
  const times: Record<Side, number[]> = { A: [], B: [] };
  for (let round = 0; round < rounds; round++) {
    for (const side of round % 2 === 0 ? (['A', 'B'] as const) : (['B', 'A'] as const)) {
      const f = runs[side];
      for (let i = 0; i < warmUp; i++) f();
      const t = process.cpuUsage();
      for (let i = 0; i < n; i++) f();
      const used = process.cpuUsage(t);
      times[side].push((used.user + used.system) / n);
    }
  }
  return times;
}

export const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;

/** Each side's median and minimum with every round's figure, then B/A of both, for µs per `unit`. */
export function printMicros(times: Record<Side, number[]>, unit: string): void {
  const min = (xs: number[]): number => Math.min(...xs);
  for (const side of ['A', 'B'] as const) console.log(`${side}: median ${median(times[side]).toFixed(2)}, min ${min(times[side]).toFixed(2)} µs ${unit} (${times[side].map((x) => x.toFixed(2)).join(', ')})`);
  console.log(`B/A: medians ${(median(times.B) / median(times.A)).toFixed(2)}, minima ${(min(times.B) / min(times.A)).toFixed(2)}`);
}
