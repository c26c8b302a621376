// An engine source whose engines are timed: each evaluation is observed in the metrics' histogram.
// The wrapped engine keeps its kind, revision and determinism, so decisions and caching are unchanged.

import type { EngineSource } from '../enforce/decision-context.ts';
import type { PolicyEngine } from '../policy/types.ts';
import type { GatewayMetrics } from './gateway-metrics.ts';

export function observeEngines(inner: EngineSource, metrics: GatewayMetrics): EngineSource {
  let wrappedFor: PolicyEngine | null = null;
  let wrapped: PolicyEngine | null = null;
  return {
    current(): PolicyEngine {
      const engine = inner.current();
      // One wrapper per engine, made again only when a new one is activated.
      if (engine !== wrappedFor || wrapped === null) {
        wrappedFor = engine;
        wrapped = timed(engine, metrics);
      }
      return wrapped;
    },
  };
}

function timed(engine: PolicyEngine, metrics: GatewayMetrics): PolicyEngine {
  const histogram = metrics.evaluationSeconds.labels({ engine: engine.kind });
  return {
    kind: engine.kind,
    revision: engine.revision,
    deterministic: engine.deterministic,
    ...(engine.reads === undefined ? {} : { reads: engine.reads }),
    ...(engine.spec === undefined ? {} : { spec: engine.spec }),
    evaluate(input) {
      const start = performance.now();
      try {
        return engine.evaluate(input);
      } finally {
        histogram.observe((performance.now() - start) / 1000);
      }
    },
  };
}
