// The admin endpoints for policies: GET /policy/status, and POST /policy/refresh (a webhook
// target: answered 202 at once, the activation runs in the background).

import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { AdminReply, AdminRoutes } from './admin-server.ts';

export const REFRESH_TOKEN_HEADER = 'x-gatehouse-token';

export interface PolicyEndpoints {
  /** The status document (JSON). */
  status(): unknown;
  /** Starts a refresh and returns at once; null when the policies do not come from git. */
  refresh(): Promise<unknown> | null;
  /** When set, POST /policy/refresh must carry it in X-Gatehouse-Token. */
  refreshToken: string | null;
  onInfo?: (message: string) => void;
}

export function policyRoutes(endpoints: PolicyEndpoints): AdminRoutes {
  return {
    '/policy/status': { GET: () => ({ status: 200, body: endpoints.status() }) },
    '/policy/refresh': {
      POST: (req): AdminReply => {
        if (endpoints.refreshToken !== null && !tokenMatches(req, endpoints.refreshToken)) {
          return { status: 401, body: { error: `missing or wrong ${REFRESH_TOKEN_HEADER} header` } };
        }
        const started = endpoints.refresh();
        if (started === null) return { status: 409, body: { error: 'policies come from a directory, not git: nothing to refresh' } };
        // The outcome lands in the status, the operator log and the audit log.
        started.catch((e: unknown) => endpoints.onInfo?.(`admin: policy refresh failed: ${e instanceof Error ? e.message : String(e)}`));
        return { status: 202, body: { accepted: true, status: '/policy/status' } };
      },
    },
  };
}

/** Constant-time comparison (of digests, so the lengths match too). */
function tokenMatches(req: IncomingMessage, expected: string): boolean {
  const given = req.headers[REFRESH_TOKEN_HEADER];
  if (typeof given !== 'string') return false;
  const digest = (s: string): Buffer => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(expected));
}
