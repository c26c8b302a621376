// The long differential protocol run: `npm run fuzz:protocol -- --messages 1000000 [--seed N]`.
// Starts Gatehouse (example Rego policies) in front of the local test PostgreSQL, then runs
// generated rounds (gateway/test/support/protocol-fuzz/) through it and straight to PostgreSQL,
// alternating an identity everything is allowed for and one under masks and content detection,
// one seed per chunk of 20,000 messages. Stops at the first divergence and prints it with its seed.

import { parseArgs } from 'node:util';
import { startTestGateway } from '../gateway/test/support/harness.ts';
import { WireClient } from '../gateway/test/support/wire-client.ts';
import { runDifferential } from '../gateway/test/support/protocol-fuzz/run.ts';
import { directSession } from '../gateway/test/support/differential.ts';
import { prepareDatabase } from '../gateway/test/support/protocol-fuzz/session.ts';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '100000' },
    seed: { type: 'string', default: '1000' },
    chunk: { type: 'string', default: '20000' },
    'keep-going': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log('usage: npm run fuzz:protocol -- [--messages N] [--seed FIRST_SEED] [--chunk MESSAGES_PER_SEED] [--keep-going]');
  console.log('  --keep-going: after a divergence, print it and go on with the next seed (exit 1 at the end)');
  process.exit(0);
}
const total = Number(values.messages);
const chunk = Number(values.chunk);
let seed = Number(values.seed);
if (!Number.isInteger(total) || total <= 0 || !Number.isInteger(chunk) || chunk <= 0 || !Number.isInteger(seed)) {
  console.error('fuzz:protocol: --messages, --chunk and --seed must be integers (see --help)');
  process.exit(2);
}

const t = await startTestGateway();
let exitCode = 0;
try {
  const secrets = await prepareDatabase(t.upstreamUrl);
  const allowToken = await t.token('fuzz-allow', ['breakglass', 'bench']);
  const maskToken = await t.token('fuzz-mask', ['agents', 'support', 'bench']);
  let sent = 0;
  let rounds = 0;
  let cancels = 0;
  let divergences = 0;
  const started = Date.now();
  while (sent < total) {
    const masked = seed % 2 === 1;
    // runDifferential reports a session it cannot (re)open as a divergence; it does not throw.
    const stats = await runDifferential({
      seed,
      messages: Math.min(chunk, total - sent),
      gateway: () => WireClient.connect(t.port, masked ? maskToken : allowToken),
      direct: () => directSession(t.upstreamUrl),
      ...(masked ? { secrets } : {}),
    });
    sent += stats.messages;
    rounds += stats.rounds;
    cancels += stats.cancels;
    console.log(`seed ${seed} (${masked ? 'masked' : 'allow-all'}): ${stats.messages} messages, ${stats.rounds} rounds (${stats.cancels} cancels); total ${sent} messages in ${Math.round((Date.now() - started) / 1000)} s`);
    if (stats.divergence !== null) {
      console.log(JSON.stringify(stats.divergence, null, 2));
      exitCode = 1;
      divergences++;
      if (values['keep-going'] !== true) break;
    }
    seed++;
  }
  console.log(`fuzz:protocol: ${sent} frontend messages in ${rounds} rounds (${cancels} with a running statement cancelled), ${divergences === 0 ? 'no divergence' : `${divergences} divergence(s) (above)`}`);
} finally {
  await t.close();
}
process.exit(exitCode);
