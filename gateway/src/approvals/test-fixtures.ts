// Shared by the approval tests (unit and integration): identities and a held statement's fields.

import type { Identity } from '../policy/types.ts';
import type { NewRequest } from './service.ts';

export function person(subject: string, groups: string[] = [], roles: string[] = []): Identity {
  return { subject, issuer: 'https://idp.test', groups, roles, name: `${subject}@example.test` };
}

export function heldUpdate(overrides: Partial<NewRequest> = {}): NewRequest {
  return {
    requester: { subject: 'agent-7', issuer: 'https://idp.test', name: null, groups: ['agents'], roles: [] },
    sessionId: 'session-1',
    decisionId: 'decision-1',
    statement: {
      text: "UPDATE clinical.patients SET phone = '555-0100' WHERE id = 42",
      normalized: 'UPDATE clinical.patients SET phone = $1 WHERE id = $2',
      fingerprint: 'fp-update-phone',
      parameters: [],
      protocol: 'simple',
      kind: 'update',
      tablesRead: [],
      tablesWritten: ['clinical.patients'],
    },
    policy: { ids: ['clinical-write-approval'], reason: 'writes to clinical.patients need approval', revision: 'rev-1', engine: 'rego' },
    requirements: { approvers: ['clinical-leads'], quorum: 1, ttlSeconds: 3600, reasonRequired: false, grantMaxSeconds: 1800 },
    requesterReason: 'fix a typo the patient reported',
    ...overrides,
  };
}
