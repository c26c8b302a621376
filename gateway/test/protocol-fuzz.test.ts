// Differential protocol test, short seeded run (the long one: `npm run fuzz:protocol`): generated
// frontend message rounds (support/protocol-fuzz/generate.ts) go straight to PostgreSQL and through
// Gatehouse; the response streams must be the same modulo what Gatehouse documents it changes, and
// under masking and content detection every row must stay with its own statement.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './support/harness.ts';
import { WireClient } from './support/wire-client.ts';
import { runDifferential } from './support/protocol-fuzz/run.ts';
import { directSession } from './support/differential.ts';
import { prepareDatabase } from './support/protocol-fuzz/session.ts';

const MESSAGES = 600;

describe('differential protocol fuzzing (short seeded run)', () => {
  let t: TestGateway;
  let secrets: string[];
  beforeAll(async () => {
    t = await startTestGateway();
    secrets = await prepareDatabase(t.upstreamUrl);
  });
  afterAll(async () => t?.close());

  it.each([1, 2])('seed %i: an identity every statement is allowed for sees exactly what PostgreSQL sends', async (seed) => {
    const token = await t.token(`fuzz-allow-${seed}`, ['breakglass', 'bench']);
    const stats = await runDifferential({
      seed,
      messages: MESSAGES,
      gateway: () => WireClient.connect(t.port, token),
      direct: () => directSession(t.upstreamUrl),
    });
    expect(stats.divergence).toBeNull();
    expect(stats.messages).toBeGreaterThanOrEqual(MESSAGES);
  });

  it.each([3, 4])('seed %i: under masks and content detection, every row is attributed to its statement', async (seed) => {
    const token = await t.token(`fuzz-mask-${seed}`, ['agents', 'support', 'bench']);
    const stats = await runDifferential({
      seed,
      messages: MESSAGES,
      gateway: () => WireClient.connect(t.port, token),
      direct: () => directSession(t.upstreamUrl),
      secrets,
    });
    expect(stats.divergence).toBeNull();
    expect(stats.messages).toBeGreaterThanOrEqual(MESSAGES);
  });

  it.each([
    [5, 'allow', ['breakglass', 'bench']],
    [6, 'mask', ['agents', 'support', 'bench']],
  ] as const)('seed %i (%s): a CancelRequest ends the running statement as in PostgreSQL, and one while idle or with a wrong key cancels nothing', async (seed, kind, groups) => {
    const token = await t.token(`fuzz-cancel-${seed}`, [...groups]);
    const stats = await runDifferential({
      seed,
      messages: 150,
      cancelShare: 0.3,
      gateway: () => WireClient.connect(t.port, token),
      direct: () => directSession(t.upstreamUrl),
      ...(kind === 'mask' ? { secrets } : {}),
    });
    expect(stats.divergence).toBeNull();
    expect(stats.cancels).toBeGreaterThan(0);
  });

  it('reports a session it cannot open (again) as a divergence with its reason, never as a thrown error', async () => {
    // Gatehouse refuses the login (28P01) and closes the connection: "connection closed" on every attempt.
    const stats = await runDifferential({
      seed: 7,
      messages: 50,
      gateway: () => WireClient.connect(t.port, 'not-a-token'),
      direct: () => directSession(t.upstreamUrl),
    });
    expect(stats.rounds).toBe(0);
    expect(stats.divergence?.why).toMatch(/^Gatehouse: could not open a session in \d+ attempts: /);
  });
});
