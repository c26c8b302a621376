// GET /audit/key: the public key that verifies the audit log's checkpoints, as a JWK set, so an
// auditor can fetch it once and check the log offline (gatehouse audit verify --key).

import type { JWK } from 'jose';
import type { AdminRoutes } from './admin-server.ts';

export function auditRoutes(publicJwk: JWK | null): AdminRoutes {
  return {
    '/audit/key': {
      GET: () =>
        publicJwk === null
          ? { status: 404, body: { error: 'no audit signing key is configured (audit.signing_key): checkpoints are not signed' } }
          : { status: 200, body: { keys: [publicJwk] } },
    },
  };
}
