// Starts the admin listener (config.admin) with all its routes: policy status and refresh, health,
// readiness and metrics, the audit signing key, and approvals.
import { approvalRoutes } from '../approvals/http-routes.ts';
import type { Approvals } from '../approvals/open.ts';
import type { CheckpointSigner } from '../audit/checkpoint.ts';
import type { AuditHealthReporter } from '../audit/health.ts';
import type { TokenVerifier } from '../auth/token-verifier.ts';
import type { GatehouseConfig } from '../config/types.ts';
import type { EngineSource } from '../enforce/decision-context.ts';
import type { GatewayMetrics } from '../metrics/gateway-metrics.ts';
import { probeUpstream } from '../pg/upstream/probe.ts';
import type { ActivationResult } from '../policy/repo/git-policy-source.ts';
import type { PolicyStatus } from '../policy/repo/status.ts';
import type { PolicyEngine } from '../policy/types.ts';
import { startAdminServer, type AdminServer } from './admin-server.ts';
import { auditRoutes } from './audit-routes.ts';
import { healthRoutes } from './health-routes.ts';
import { policyRoutes } from './policy-routes.ts';
import { guardReads } from './read-auth.ts';
import { createReadiness } from './readiness.ts';

/** What the admin routes read and act on. */
export interface AdminSources {
  engines: EngineSource;
  /** With policies.git: the followed source's status; null when policies come from a directory. */
  policyStatus: () => PolicyStatus | null;
  refreshPolicies: () => Promise<ActivationResult> | null;
  audit: AuditHealthReporter;
  metrics: Pick<GatewayMetrics, 'registry'>;
  signer: CheckpointSigner | null;
  approvals: Approvals;
  verifier: TokenVerifier;
  info: (message: string) => void;
}

/** GET /policy/status when policies come from a directory: what is loaded, nothing followed. */
function directoryStatus(engine: PolicyEngine, directory: string | null): unknown {
  return { engine: engine.kind, source: { directory }, active: { commit: engine.revision }, following: null };
}

export async function startAdmin(config: GatehouseConfig, admin: NonNullable<GatehouseConfig['admin']>, s: AdminSources): Promise<AdminServer> {
  const readiness = createReadiness({
    policy: () => `${s.engines.current().kind} ${s.engines.current().revision}`,
    probeUpstream: () => probeUpstream(config.upstream.url, config.upstream.connectTimeoutMs),
    audit: () => s.audit.health(),
  });
  const routes = {
    ...policyRoutes({
      status: () => s.policyStatus() ?? directoryStatus(s.engines.current(), config.policies.directory),
      refresh: s.refreshPolicies,
      refreshToken: admin.refreshToken,
      onInfo: s.info,
    }),
    ...healthRoutes(s.metrics.registry, readiness),
    ...auditRoutes(s.signer?.publicJwk ?? null),
    ...approvalRoutes({ service: s.approvals.service, verify: (token) => s.verifier.verify(token), activeRevision: () => s.engines.current().revision }),
  };
  const reads = { ...admin.reads, verifyToken: (jwt: string) => s.verifier.verify(jwt) };
  return startAdminServer(admin, guardReads(routes, ['/policy/status', '/metrics'], reads), s.info);
}
