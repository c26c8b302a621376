// The identity and session parts of PolicyInput, built once per session and shared (frozen) by
// every input of that session, so that their JSON in decision-cache keys is made once too
// (policy/frozen-json.ts). Rebuilt when a field changed (SET application_name).

import type { Identity, PolicyInput, SessionInfo } from './types.ts';

interface IdentityEntry {
  groups: readonly string[];
  groupsCopy: readonly string[];
  roles: readonly string[];
  rolesCopy: readonly string[];
  subject: string;
  issuer: string;
  name: string | null;
  part: PolicyInput['identity'];
}

const identities = new WeakMap<Identity, IdentityEntry>();
const sessions = new WeakMap<SessionInfo, PolicyInput['session']>();

/** input.identity for `identity`: the same frozen object while the identity's fields are unchanged. */
export function identityPart(identity: Identity): PolicyInput['identity'] {
  const known = identities.get(identity);
  if (
    known !== undefined &&
    known.subject === identity.subject &&
    known.issuer === identity.issuer &&
    known.name === identity.name &&
    sameValues(known.groups, known.groupsCopy, identity.groups) &&
    sameValues(known.roles, known.rolesCopy, identity.roles)
  ) {
    return known.part;
  }
  const part = Object.freeze({
    subject: identity.subject,
    issuer: identity.issuer,
    groups: Object.freeze(unique(identity.groups)) as string[],
    roles: Object.freeze(unique(identity.roles)) as string[],
    name: identity.name,
  });
  identities.set(identity, {
    groups: identity.groups,
    groupsCopy: [...identity.groups],
    roles: identity.roles,
    rolesCopy: [...identity.roles],
    subject: identity.subject,
    issuer: identity.issuer,
    name: identity.name,
    part,
  });
  return part;
}

/** input.session for `session`: the same frozen object while the session's fields are unchanged. */
export function sessionPart(session: SessionInfo): PolicyInput['session'] {
  const known = sessions.get(session);
  if (
    known !== undefined &&
    known.id === session.id &&
    known.client_address === session.clientAddress &&
    known.application_name === session.applicationName &&
    known.database === session.database &&
    known.user === session.user &&
    known.tls === session.tls
  ) {
    return known;
  }
  const part = Object.freeze({
    id: session.id,
    client_address: session.clientAddress,
    application_name: session.applicationName,
    database: session.database,
    user: session.user,
    tls: session.tls,
  });
  sessions.set(session, part);
  return part;
}

/** The same array object with the same elements as when it was remembered (a push or an element set is seen). */
function sameValues(remembered: readonly string[], copy: readonly string[], now: readonly string[]): boolean {
  if (remembered !== now || copy.length !== now.length) return false;
  for (let i = 0; i < copy.length; i++) if (copy[i] !== now[i]) return false;
  return true;
}

/** First occurrence order kept: policies and audit records read more naturally that way. */
export function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}
