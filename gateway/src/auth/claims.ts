// Turns the claims of an already verified JWT into the Identity policies see.

import type { JWTPayload } from 'jose';
import { GatehouseError } from '../errors.ts';
import type { Identity } from '../policy/types.ts';

export interface ClaimNames {
  groupsClaim: string;
  rolesClaim: string;
}

/**
 * Reads a claim by name. A name present as-is wins (Auth0-style namespaced claims such as
 * "https://example.com/groups" contain dots); otherwise a dotted name is walked as a path
 * ("realm_access.roles" for Keycloak).
 */
export function readClaim(payload: Record<string, unknown>, name: string): unknown {
  if (Object.prototype.hasOwnProperty.call(payload, name)) return payload[name];
  if (!name.includes('.')) return undefined;
  let node: unknown = payload;
  for (const part of name.split('.')) {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return undefined;
    if (!Object.prototype.hasOwnProperty.call(node, part)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

/**
 * A list claim may be an array of strings or one string separated by spaces or commas (the
 * OAuth "scope" style). Anything else is refused rather than silently dropped: a policy that
 * denies by group must not be bypassed by a claim shape we did not understand. Array items are
 * kept exactly as the identity provider wrote them (only empty ones are dropped): a group named
 * "clinical-leads " is another group than "clinical-leads", not a way to become one of its members.
 */
export function readListClaim(payload: Record<string, unknown>, name: string): string[] {
  const value = readClaim(payload, name);
  if (value === undefined || value === null) return [];
  let items: string[];
  if (typeof value === 'string') {
    items = value.split(/[\s,]+/);
  } else if (Array.isArray(value) && value.every((v): v is string => typeof v === 'string')) {
    items = [...value];
  } else {
    throw new GatehouseError('AUTH_FAILED', `claim '${name}' must be a string or an array of strings`);
  }
  return [...new Set(items.filter((v) => v.length > 0))];
}

export function identityFromClaims(payload: JWTPayload, names: ClaimNames): Identity {
  const claims = payload as Record<string, unknown>;
  const subject = payload.sub;
  if (typeof subject !== 'string' || subject.length === 0) {
    throw new GatehouseError('AUTH_FAILED', 'token has no subject (sub)');
  }
  if (typeof payload.iss !== 'string') {
    throw new GatehouseError('AUTH_FAILED', 'token has no issuer (iss)');
  }
  const email = claims['email'];
  const name = claims['name'];
  return {
    subject,
    issuer: payload.iss,
    groups: readListClaim(claims, names.groupsClaim),
    roles: readListClaim(claims, names.rolesClaim),
    name: typeof email === 'string' && email !== '' ? email : typeof name === 'string' && name !== '' ? name : null,
  };
}
