// The bench's decision-timing part alone (gateway/src/bench/decision-timing.ts): each engine on
// the example policies over the bench corpus, no decision cache, engines interleaved per round
// so that both see the same machine load. Usage:
//   node --import tsx scripts/bench-decisions.ts [--engine rego,cedar] [--rounds 200] [--passes 3]
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { measureDecisionTimings } from '../gateway/src/bench/decision-timing.ts';
import type { EngineKind } from '../gateway/src/policy/types.ts';

const { values } = parseArgs({
  options: {
    engine: { type: 'string', default: 'rego,cedar' },
    rounds: { type: 'string', default: '200' },
    passes: { type: 'string', default: '3' },
  },
});
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const engines = values.engine.split(',') as EngineKind[];
const buildDir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-decisions-'));
console.log(`load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
for (let pass = 0; pass < Number(values.passes); pass++) {
  for (const kind of engines) {
    const [t] = await measureDecisionTimings({ policiesRoot: path.join(root, 'policies'), buildDir, engines: [kind], rounds: Number(values.rounds) });
    console.log(`pass ${pass + 1} ${t!.engine}: median ${t!.medianMicros.toFixed(1)} µs, p99 ${t!.p99Micros.toFixed(1)} µs, mean ${t!.meanMicros.toFixed(1)} µs over ${t!.decisions} decisions (${t!.inputs} inputs)`);
  }
}
console.log(`load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
