// Who sees which request and grant, as one predicate every store applies BEFORE it limits a list
// to the newest N (postgres-store.ts says the same in SQL): a flood of requests someone else may
// answer cannot push a viewer's own requests out of its inbox.

import type { Identity } from '../policy/types.ts';
import { mayAnswer, samePrincipal } from './transitions.ts';
import type { ApprovalRequest, Grant } from './types.ts';

/** The parts of an identity visibility depends on. */
export type Viewer = Pick<Identity, 'subject' | 'issuer' | 'groups' | 'roles'>;

/** Approvers see the requests they may answer (a group or role the policy named); everyone sees their own. */
export function requestVisibleTo(request: ApprovalRequest, viewer: Viewer): boolean {
  return mayAnswer(request, viewer) || samePrincipal(request.requester, viewer);
}

/**
 * A grant is visible to the identity it lets through, to those who gave it, and to whoever may
 * answer the request it came from (`request` null: that request is gone).
 */
export function grantVisibleTo(grant: Grant, request: ApprovalRequest | null, viewer: Viewer): boolean {
  const mine = grant.subject === viewer.subject && grant.issuer === viewer.issuer;
  return mine || grant.grantedBy.some((p) => samePrincipal(p, viewer)) || (request !== null && mayAnswer(request, viewer));
}
