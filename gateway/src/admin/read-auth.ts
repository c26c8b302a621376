// Credentials for the admin listener's read endpoints (GET /policy/status, /metrics): what they
// show (policy revisions, refused commits, traffic by decision) is for operators. A request carries
// `Authorization: Bearer <credential>`: the configured read token, or a JWT from the gateway's
// issuer whose groups include the configured read group.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Identity } from '../policy/types.ts';
import type { AdminReply, AdminRoutes } from './admin-server.ts';

export interface ReadAuth {
  token: string | null;
  group: string | null;
  verifyToken(jwt: string): Promise<Identity>;
}

/** Wraps the GET handlers of `paths` so they answer 401 without a valid credential (no credential configured: unchanged). */
export function guardReads(routes: AdminRoutes, paths: readonly string[], auth: ReadAuth): AdminRoutes {
  if (auth.token === null && auth.group === null) return routes;
  const out: AdminRoutes = { ...routes };
  for (const path of paths) {
    const get = routes[path]?.GET;
    if (get === undefined) continue;
    out[path] = {
      ...routes[path],
      GET: async (req, body, params) => ((await allowed(req, auth)) ? get(req, body, params) : unauthorized()),
    };
  }
  return out;
}

async function allowed(req: IncomingMessage, auth: ReadAuth): Promise<boolean> {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  if (!m) return false;
  const given = m[1]!;
  if (auth.token !== null && sameSecret(given, auth.token)) return true;
  if (auth.group === null) return false;
  try {
    return (await auth.verifyToken(given)).groups.includes(auth.group);
  } catch {
    return false;
  }
}

/** Constant-time comparison (of digests, so the lengths match too). */
function sameSecret(given: string, expected: string): boolean {
  const digest = (s: string): Buffer => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

function unauthorized(): AdminReply {
  return { status: 401, body: { error: 'this endpoint needs Authorization: Bearer <admin.read_token, or a token of the admin.read_group group>' } };
}
