// Whether this gateway should receive traffic (/readyz): a policy is active, the upstream database
// accepts Gatehouse's credentials, and the audit sink can write. Each check says why when it fails.

import type { AuditHealth } from '../audit/health.ts';
import type { UpstreamProbe } from '../pg/upstream/probe.ts';

export interface ReadinessSources {
  /** Describes the active policy; throws when none is. */
  policy(): string;
  /** A fresh probe of the upstream database. */
  probeUpstream(): Promise<UpstreamProbe>;
  audit(): AuditHealth;
}

export interface CheckState {
  ok: boolean;
  detail: string;
}

export interface Readiness {
  ready: boolean;
  checks: { policy: CheckState; upstream: CheckState; audit: CheckState };
}

/** A probe result is reused this long, so scrapes and load balancers do not open a connection each. */
export const UPSTREAM_PROBE_TTL_MS = 2000;

export function createReadiness(sources: ReadinessSources, now: () => number = Date.now): () => Promise<Readiness> {
  let cached: { at: number; result: Promise<UpstreamProbe> } | null = null;
  const upstream = (): Promise<UpstreamProbe> => {
    if (cached === null || now() - cached.at >= UPSTREAM_PROBE_TTL_MS) cached = { at: now(), result: sources.probeUpstream() };
    return cached.result;
  };
  return async () => {
    let policy: CheckState;
    try {
      policy = { ok: true, detail: sources.policy() };
    } catch (e) {
      policy = { ok: false, detail: e instanceof Error ? e.message : String(e) };
    }
    const probe = await upstream();
    const upstreamState: CheckState = probe.ok
      ? { ok: true, detail: `PostgreSQL ${probe.serverVersion} accepts ${probe.user}` }
      : { ok: false, detail: probe.reason };
    const health = sources.audit();
    const audit: CheckState = health.writable ? { ok: true, detail: 'writable' } : { ok: false, detail: health.reason };
    return { ready: policy.ok && upstreamState.ok && audit.ok, checks: { policy, upstream: upstreamState, audit } };
  };
}
