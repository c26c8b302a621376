// The audit record of a client session's login and end (type 'session'), and when it is written.
import type { Identity, PolicyInput } from '../policy/types.ts';
import { recordTime } from './record-time.ts';
import { AUDIT_RECORD_VERSION, type AuditRecord, type AuditSink } from './types.ts';

export type SessionEvent = 'auth_ok' | 'auth_failed' | 'closed' | 'protocol_error';

/** One session event: who, from where, and why it failed or ended (null when it went well). */
export interface SessionEventFacts {
  sessionId: string;
  event: SessionEvent;
  clientAddress: string;
  /** The client's startup parameters (application_name is recorded). */
  params: Readonly<Record<string, string>>;
  identity: Identity | null;
  reason: string | null;
}

export function sessionRecord(f: SessionEventFacts): AuditRecord {
  const { identity } = f;
  return {
    v: AUDIT_RECORD_VERSION,
    type: 'session',
    time: recordTime(),
    session_id: f.sessionId,
    event: f.event,
    client_address: f.clientAddress,
    application_name: f.params['application_name'] ?? '',
    identity: identity ? recordIdentity(identity) : null,
    reason: f.reason,
  };
}

/** Record identities of frozen identities (one per verified token, auth/verified-tokens.ts). */
const frozenIdentities = new WeakMap<Identity, PolicyInput['identity']>();

/**
 * The identity as the record carries it. For a frozen identity (the one every session of a verified
 * token shares) the same frozen object each time, so that its JSON is made once per token
 * (policy/frozen-json.ts), not at every login and close; it cannot change, so it cannot go stale.
 */
function recordIdentity(identity: Identity): PolicyInput['identity'] {
  const frozen = Object.isFrozen(identity) && Object.isFrozen(identity.groups) && Object.isFrozen(identity.roles);
  const known = frozen ? frozenIdentities.get(identity) : undefined;
  if (known !== undefined) return known;
  const made = { subject: identity.subject, issuer: identity.issuer, groups: identity.groups, roles: identity.roles, name: identity.name };
  if (!frozen) return made;
  Object.freeze(made);
  frozenIdentities.set(identity, made);
  return made;
}

/** Whether a session record may wait for the next durable write: a login that succeeded, a session that ended well. */
export function writtenSoon(f: Pick<SessionEventFacts, 'event' | 'reason'>): boolean {
  return f.reason === null && (f.event === 'auth_ok' || f.event === 'closed');
}

/**
 * Writes a session record. A login that succeeded and a session that ended without a problem are
 * written soon (AuditSink.writeSoon): with the session's first statement record, which is made
 * durable before that statement is forwarded, or within the sink's short delay, or at close; a
 * new connection per transaction then costs one audit write instead of three. Refusals and
 * failures are written at once.
 */
export function auditSession(audit: AuditSink, f: SessionEventFacts): void {
  const record = sessionRecord(f);
  try {
    if (writtenSoon(f)) audit.writeSoon(record);
    else audit.write(record);
  } catch {
    // A failed session record cannot be surfaced to anyone but the operator log.
  }
}
