import { describe, expect, it } from 'vitest';
import { createGatewayMetrics } from './gateway-metrics.ts';

const sources = {
  sessions: () => 0,
  upstreamConnections: () => 0,
  policy: () => null,
  decisionCache: () => ({ entries: 0, bytes: 0, hits: 0, misses: 0 }),
};

describe('gatehouse_statements_total', () => {
  it('reports the statements counted on the hot path when scraped, by decision and engine', async () => {
    const metrics = createGatewayMetrics(sources);
    for (let i = 0; i < 3; i++) metrics.countStatement('allow', 'rego');
    metrics.countStatement('deny', 'rego');
    const text = await metrics.registry.metrics();
    expect(text).toContain('gatehouse_statements_total{decision="allow",engine="rego"} 3');
    expect(text).toContain('gatehouse_statements_total{decision="deny",engine="rego"} 1');
    metrics.countStatement('allow', 'rego');
    expect(await metrics.registry.metrics()).toContain('gatehouse_statements_total{decision="allow",engine="rego"} 4');
  });
});
