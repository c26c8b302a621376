// The operators' health endpoints: GET /metrics (Prometheus text format), /healthz (the process
// answers) and /readyz (200 when ready for traffic, 503 with the failing checks otherwise).

import type { Registry } from 'prom-client';
import type { AdminRoutes } from './admin-server.ts';
import type { Readiness } from './readiness.ts';

export function healthRoutes(registry: Registry, readiness: () => Promise<Readiness>): AdminRoutes {
  return {
    '/metrics': {
      GET: async () => ({ status: 200, text: await registry.metrics(), contentType: registry.contentType }),
    },
    '/healthz': { GET: () => ({ status: 200, body: { alive: true } }) },
    '/readyz': {
      GET: async () => {
        const r = await readiness();
        return { status: r.ready ? 200 : 503, body: r };
      },
    },
  };
}
