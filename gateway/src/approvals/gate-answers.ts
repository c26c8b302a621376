// What a held statement's client is told when its request ends: a closed request turned into run
// (approved, under the same policy commit) or the typed refusal that says what happened.

import type { GateAnswer } from '../enforce/approval-gate.ts';
import { GatehouseError } from '../errors.ts';
import type { ApprovalRequest } from './types.ts';

export type RefusalCode = 'APPROVAL_REQUIRED' | 'APPROVAL_DENIED' | 'APPROVAL_EXPIRED' | 'APPROVAL_VOID' | 'APPROVAL_LIMIT';

export function refused(code: RefusalCode, message: string, decisionId: string, hint?: string): GateAnswer & { kind: 'refused' } {
  return { kind: 'refused', error: new GatehouseError(code, message, { decisionId, ...(hint === undefined ? {} : { hint }) }) };
}

export function answerFor(r: ApprovalRequest, activeRevision: string): GateAnswer {
  switch (r.state) {
    case 'approved': {
      if (r.policy.revision !== activeRevision) {
        return refused('APPROVAL_VOID', `approval request ${r.id} was approved, but the policy commit changed while it waited`, r.decisionId, 'Run the statement again: the active policy decides it.');
      }
      const by = r.answers.filter((a) => a.verdict === 'approve').map((a) => a.approver.subject);
      return { kind: 'approved', note: `approved in request ${r.id} by ${by.join(', ')}` };
    }
    case 'denied': {
      const no = r.answers.find((a) => a.verdict === 'deny');
      const why = no === undefined ? '' : `${no.approver.subject}${no.comment === '' ? '' : `: "${no.comment}"`}`;
      return refused('APPROVAL_DENIED', `approval request ${r.id} was denied by ${why}`, r.decisionId, 'The statement was not run. Ask the approver, or change what you asked for.');
    }
    case 'expired':
      return refused('APPROVAL_EXPIRED', `canceling statement: approval request ${r.id} expired without enough approvals`, r.decisionId, 'The statement was not run. Run it again to ask again, or ask an approver to answer sooner.');
    case 'void':
      return refused('APPROVAL_VOID', `approval request ${r.id} is void: ${r.closedReason ?? 'the policy commit changed'}`, r.decisionId, 'Run the statement again: the active policy decides it.');
    case 'withdrawn':
    case 'pending':
      return refused('APPROVAL_REQUIRED', `approval request ${r.id} was withdrawn: ${r.closedReason ?? 'the wait ended'}`, r.decisionId);
    default: {
      const never: never = r.state;
      throw new Error(`unknown request state ${String(never)}`);
    }
  }
}
